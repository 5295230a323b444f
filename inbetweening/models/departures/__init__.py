"""Parts of the generator that are not the paper's (config/departures.py names each)."""
