"""``zmqchat gui``: the Tk desktop client.

Modules, each with one job; only the ``tk_*`` ones import tkinter, so the rest is
tested without a screen:

* :mod:`.glyphs` - which characters this Tk can draw, and what replaces the others;
  :mod:`.rtl` - right-to-left text shaped and put in display order
* :mod:`.prefs` - the connect settings the user confirmed in the form last time
* :mod:`.viewmodel` - conversations, scrollback, unread counts, members, status:
  the shared :class:`~zmqchat.client.chat.controller.ChatController` plus what a window
  keeps, fed to the Tk thread through a queue; the rows of every pane and what
  changed in them are :mod:`.panes`, one pane's a :mod:`.transcript`, what was
  typed an :mod:`.input_history`; the connect form's fields are checked by
  :mod:`.connect_form`, the client made by :mod:`.connecting`, and connected,
  handed over and closed in its time by :mod:`.session`
* :mod:`.theme` - colours and fonts of the line styles
* :mod:`.tk_connect` - the connect form; :mod:`.tk_window` - the chat window and
  its parts (:mod:`.tk_sidebar`, :mod:`.tk_transcript` with :mod:`.tk_bidi`,
  :mod:`.tk_input`)
* :mod:`.tk_app` - one Tk root, the ``after()`` loop that drains the queue, and
  ``run_gui`` for the command line
"""
