"""Training (torch): the CNN, its data mix, the loop, calibration, export and the model card.

model.py           the CNN
data_mix.py        each source's share of a batch: MNIST, redrawn digits, non-digits
train.py           the loop and `digit-knower train`
calibrate.py       temperature scaling and the reader's thresholds, on the validation split
evaluate.py        a model folder scored on the MNIST test set (`digit-knower evaluate`)
reader_quality.py  the card's test-side sets, read through the whole reader
model_card.py      the card: figures, sources, versions, plots
finetune.py        fine-tune a parent's weights on labelled drawings (the learning loop)
drawings/          synthetic drawings: redrawn digits, non-digits, the drawing cache
"""
