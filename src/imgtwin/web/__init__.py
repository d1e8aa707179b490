"""The web pages' files: the static report's and the review app's HTML, CSS and JavaScript."""
