"""A job module that fails to import (as after a bad deploy): the worker must go on."""

raise RuntimeError("this module is broken on purpose")
