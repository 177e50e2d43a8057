"""The terminal front ends: the interactive console (``zmqchat chat``) and the one-shot
commands for scripts (``send``, ``tail``, ``pm``, ``who``, ``rooms``, ``history``), and
what both use: exit statuses and stop signals (``exits``), argument checks
(``arguments``)."""
