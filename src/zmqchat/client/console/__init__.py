"""The terminal front ends: the interactive console (``zmqchat chat``) and the one-shot
commands for scripts (``send``, ``tail``, ``pm``, ``who``, ``rooms``, ``history``) with
how each runs (``runner``), and what both use: exit statuses and stop signals
(``exits``), argument checks (``arguments``)."""
