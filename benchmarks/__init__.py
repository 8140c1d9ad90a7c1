"""Speed and quality benchmarks of knowledge_agg (see the README's Benchmarks section).

Their runs stay out of the user's run store unless ``KNOWLEDGE_AGG_STORE`` says otherwise: thousands
of benchmark runs are not research history (``benchmarks.store`` measures the store on its own files).
"""

import os

os.environ.setdefault("KNOWLEDGE_AGG_STORE", "off")
