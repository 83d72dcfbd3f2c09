"""steerserve's extension routes under ``/v1/steering/``: the loaded packs, their features' neighbours and map."""
