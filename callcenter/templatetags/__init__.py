"""Template tags and filters of the call-center pages."""
