"""The public data sets: where they lie, how they are downloaded and verified, how they are read.

    layout.py        where each set lies below the data folder (mnist/, pendigits/, omniglot/)
    download.py      downloads with a progress bar, checksums, and the one error: DataError
    mnist.py         the four MNIST files: download, checksum of the payload, parse
    pendigits.py     UCI's pen-written digits: 8-point pen paths, checksum of the parsed rows
    omniglot.py      Omniglot strokes: the pickled original checked before it is read, converted
                     once to a plain file that is loaded without pickles
    sources.py       the sets by name, for the command and the test suite
    data_command.py  `digit-knower data fetch` and `digit-knower data where`

numpy only: serving never needs this package, training and evaluation do.
"""
