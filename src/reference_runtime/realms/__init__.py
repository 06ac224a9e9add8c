"""The realms the reference Runtime does work for: content (files) and data mashes."""
