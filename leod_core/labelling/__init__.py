"""Labelling loop for a person: which frames to label next, export them to labelling tools, import the result."""
