"""In-process stand-ins for systems this machine cannot reach, speaking their real wire formats."""
