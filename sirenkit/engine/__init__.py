"""The engine: device, precision and compile policy; the one training loop and its step
strategies (one signal, data-parallel, stacked signals); checkpoints; run folders; the signal-kind
interface the rest of the engine asks everything of. It knows no particular kind of signal."""
