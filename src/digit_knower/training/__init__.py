"""Training (torch): the CNN, its data mix, the loop, calibration, export and the model card.

config.py          the recipe: every number a training run is made with
model.py           the CNN, and its logits for 28x28 inputs
augment.py         random stroke thickness and affine warps, batched
data_mix.py        what training reads (MNIST, drawings, real hands), and each source's share of a batch
train.py           the loop and the whole run of `digit-knower train`
calibrate.py       temperature scaling and the reader's thresholds, on the validation split
export.py          the ONNX file, checked against torch, the weights and the card
evaluate.py        a model folder scored on the MNIST test set (`digit-knower evaluate`)
reader_quality.py  the card's test-side sets, read through the whole reader
model_card.py      the card: figures, sources, versions, plots
finetune.py        fine-tune a parent's weights on labelled drawings (the learning loop)
drawings/          redrawn digits, non-digits, the real hands on the canvas, training's drawings, the cache
"""
