"""The config's schema: the paper's settings, the departures from them, start-up checks."""
