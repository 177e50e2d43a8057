"""The screen-less chat model shared by the console and the GUI: slash commands,
conversation state, the controller that runs commands on a client, formatting, paging,
and the classification of failures. No terminal or window code."""
