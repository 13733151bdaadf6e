"""Segmentation models: filled in by the segmentation engine issue."""
