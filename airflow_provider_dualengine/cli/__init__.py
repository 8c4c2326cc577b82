"""`dualengine` command line."""
