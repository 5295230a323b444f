"""What is wrong with a dataset the config names: user errors, reported in one line."""


class DatasetError(ValueError):
    """A dataset cannot serve what the run needs."""


class DatasetNotPreparedError(DatasetError):
    """The config names a dataset that has no prepared copy under config.data.data_dir."""
