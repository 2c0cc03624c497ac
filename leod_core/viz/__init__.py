"""Plots and event frames with boxes drawn."""
