"""What segments contributes to the pages and duties of the apps below it, through their extension
points (callcenter/extensions.py); registered in segments.apps.ready()."""
