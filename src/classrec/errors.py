"""The one exception type a user of ClassRec can cause."""


class ClassRecError(ValueError):
    """Bad input or a failed operation the user can fix; the message says what to do.

    The CLI prints it on one line and exits non-zero; the web app turns it into a 4xx response.
    """
