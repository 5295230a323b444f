"""Where and how programs run: the device mesh and shardings, multi-process start-up,
the compilation cache, and the terminal of every command-line tool."""
