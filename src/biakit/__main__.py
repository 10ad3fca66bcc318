"""``python -m biakit``: the command line, as the ``biakit`` script.

Also what ``torchrun --nproc_per_node N -m biakit train CONFIG.yaml`` runs in
each training process.
"""

if __name__ == "__main__":
    from biakit.cli import main

    main()
