"""Records as the commands see them: decoding, filters, output formats, user files.

Shared by ``consume``, ``tail``, ``peek`` and the dashboard's filter screen.  Free of
Textual and Typer, as the engine is.
"""
