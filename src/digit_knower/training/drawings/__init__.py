"""Synthetic drawings for training and for the card's figures.

redraw.py        MNIST digits redrawn as mouse-style canvas strokes
nondigits.py     drawings that are not one digit: scribbles, shapes, letters, marks
training_set.py  training's drawings, made on every core as 28x28 inputs
cache.py         drawings made once and kept, in files named by what made them
"""
