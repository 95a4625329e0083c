"""The public data sets: where they lie, how they are downloaded and verified, how they are read.

    mnist.py   the four MNIST files: download, checksum of the payload, parse

numpy only: serving never needs this package, training and evaluation do.
"""
