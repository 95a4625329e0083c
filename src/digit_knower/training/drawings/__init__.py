"""Drawings for training and for the card's figures: synthetic ones, and real hands drawn on the canvas.

redraw.py        MNIST digits redrawn as mouse-style canvas strokes
nondigits.py     drawings that are not one digit: scribbles, shapes, letters, marks
pen_paths.py     real people's pen-written digits (UCI) drawn as canvas strokes; their validation rows
omniglot_strokes.py  real people's mouse drawings of other alphabets' letters, drawn as canvas strokes
training_set.py  training's drawings, made on every core as 28x28 inputs
handwriting.py   the real hands (pen digits' training rows, Omniglot) as training's 28x28 inputs
cache.py         drawings made once and kept, in files named by what made them
"""
