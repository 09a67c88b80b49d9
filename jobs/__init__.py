"""Chain-wide jobs on a distributed engine (Spark), over the same lake the stores publish."""
