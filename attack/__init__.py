"""The hostile-peer suite (issue 14, ``python -m attack``): each attack of the table in
docs/attack.md, and a fuzz run, against a real broker with a bystander who chats from
another address; reports the broker's peak memory, the bystander's round trips and
losses, and whether newcomers could still register."""
