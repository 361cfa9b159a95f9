"""The weekly peer exchange: standing slots, the planner, the doctors' visit rota,
members' confirmations."""
