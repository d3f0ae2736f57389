"""remiss stance: stance of Swedish remissvar toward each proposal of an SOU."""

__version__ = "0.1.0"
