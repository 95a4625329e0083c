"""Synthetic drawings for training and for the card's figures.

redraw.py     MNIST digits redrawn as mouse-style canvas strokes
nondigits.py  drawings that are not one digit: scribbles, shapes, letters, marks
cache.py      drawings made once and kept, in files named by what made them
"""
