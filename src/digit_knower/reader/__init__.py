"""The reader: any picture in, a `Prediction` out. ONNX Runtime, numpy and Pillow only.

    picture.py      decode bytes or arrays into one grey page, with what each picture may cost
    preprocess.py   MNIST-style: crop to the ink, fit into 20x20, centre by mass in 28x28
    segment.py      split a line of ink into the digits that stand side by side
    cuts.py         where digits written close together or touching might be cut apart
    classes.py      what the network's outputs mean (DIGITS, NOT_A_DIGIT, CLASSES) and softmax
    second_look.py  read the undecided inputs again, shifted, and average
    verdict.py      digit, unsure, not a digit or several digits (one `Thresholds` type)
    predictor.py    `Predictor` and `Prediction`: the public contract; `Network`, the ONNX model alone
    timings.py      how long preprocessing and the network take, for whoever observes
    shipped/        the shipped model (ONNX file, card, weights), as package data

Nothing here imports torch, `training` or `lifecycle` (tests/test_layout.py proves it).
"""
