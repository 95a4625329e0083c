"""The model lifecycle: learn from the users' labelled drawings, compare, promote, serve without a restart.

    registry.py   the registry folder: one complete model folder per version, shared by all processes
    serving.py    LiveModel: the Predictor a process serves now, swapped when a deployment says so
    feedback.py   the labelled predictions as training data: a stable 80/20 split, a checksum
    scoring.py    a model on the MNIST test set, the feedback holdout and the mouse-style set
    gate.py       whether a candidate may replace its parent, and why not
    finetune.py   the one place that trains (torch): fine-tune a parent's weights, export to ONNX
    retrain.py    `digit-knower retrain`: all of the above, with a side-by-side table
    catalog.py    every version with its figures, live accuracy and whether it serves
    cli.py        `digit-knower models list | promote | rollback`

Which version serves lives in the database (`store/lifecycle.py`): every web and API process on
every machine reads it. Serving imports none of torch, finetune.py or retrain.py.
"""
