"""The Lesson's steps (demo/app_pages/lesson.py shows them; lesson_nav.py guides a visitor through the pages they
open): per step its title, minutes, what to say, an equation, a question, the page, the button's label and the
page's settings. Each step opens its own part of a page (a tab), so no two steps share a link."""

# (title, minutes, what to say, equation (LaTeX) or None, question, page, button label, the page's settings)
STEPS = [
    ("What a VAE does", 6,
     "An encoder squeezes each image into a short code z (here 32 numbers); a decoder turns the code back into an "
     "image. Training asks for two things at once: the decoded image should match the input, and the codes should "
     "look like draws from a standard normal, so that any draw from it decodes to something.",
     r"\mathcal{L}_{\mathrm{VAE}} = \underbrace{\mathbb{E}_{q(z|x)}[-\log p(x|z)]}_{\text{reconstruction}}"
     r" + \underbrace{\mathrm{KL}(q(z|x)\,\|\,\mathcal{N}(0, I))}_{\text{codes near the prior}}",
     "Which details of a digit survive the trip through 32 numbers, and which are lost?",
     "app_pages/reconstruction.py", "Open Reconstruction (VAE)", {"kinds": "vae", "recon-images": "Random test images",
                                                                  "recon-n": "8"}),
    ("Why the VAE blurs", 6,
     "The pixel loss rewards the average of all images that fit a code: when the decoder is unsure whether a "
     "stroke goes left or right, the safest answer is a grey smear of both. Put the VAE beside the VAE-GAN, which "
     "measures the error differently.",
     r"\arg\min_{\hat{x}} \mathbb{E}\,\|x - \hat{x}\|^2 = \mathbb{E}[x \mid z]\ \text{(the mean: a blur)}",
     "Where exactly is the VAE's reconstruction grey? Would a human draw that?",
     "app_pages/reconstruction.py", "Open Reconstruction (VAE vs VAE-GAN)",
     {"kinds": "vae,vaegan", "recon-images": "Random test images", "recon-n": "8"}),
    ("What a GAN does", 7,
     "A GAN has no encoder: a generator turns noise into images and a discriminator tries to tell them from real "
     "ones; each learns from the other's mistakes. Its samples are sharp, because blur is easy to spot.",
     r"\min_G \max_D\ \mathbb{E}_{x}[\log D(x)] + \mathbb{E}_{z \sim \mathcal{N}(0, I)}[\log(1 - D(G(z)))]",
     "The GAN never sees a training image directly. How can it still draw digits?",
     "app_pages/compare.py", "Open Compare (all three, same noise)",
     {"kinds": "gan,vae,vaegan", "compare-grid": "6", "prior": "normal", "compare-classify": "1"}),
    ("Mode collapse", 5,
     "A generator can win by drawing only what fools the discriminator best: a few kinds of digit, always. That is "
     "mode collapse, inside one training run: samples look fine (high precision) but cover little (low recall, "
     "missing classes). Train one live with a setting that makes it happen, and watch the classes covered fall "
     "within two minutes.",
     r"\text{precision} = P(\text{sample looks real}),\quad \text{recall} = P(\text{real image is covered})",
     "If every sample is a perfect 1, is the generator good? What number would show the problem?",
     "app_pages/train_live.py", "Open Train live (press Start: watch a GAN collapse)",
     # the preset and the knobs it sets, spelled out: the page's link says the same, so it adds no history entry
     {"live-preset": "mode-collapse", "live-models": "gan", "live-lr": "0.002", "live-norm": "none"}),
    ("The VAE-GAN's idea", 7,
     "Larsen et al. (2016) keep the VAE's encoder and prior but measure the reconstruction in the discriminator's "
     "features instead of pixels, and add the GAN loss. The codes stay meaningful and the images stay sharp.",
     r"\mathcal{L} = \mathrm{KL}(q(z|x)\,\|\,p(z)) + \mathcal{L}^{\mathrm{Dis}_l}_{\mathrm{llike}}"
     r" + \mathcal{L}_{\mathrm{GAN}}",
     "Walk from one digit to another through the codes: which model's path stays a digit all the way?",
     "app_pages/interpolation.py", "Open Interpolation (all three)",
     {"kinds": "gan,vae,vaegan", "interp-path": "slerp", "interp-steps": "10"}),
    ("Measuring with FID", 7,
     "To compare models without arguing about taste, embed real and generated images with a fixed network and "
     "compare the two clouds of features: their means and covariances. Lower is better; 0 is a perfect match.",
     r"\mathrm{FID} = \|\mu_r - \mu_g\|^2 + \mathrm{Tr}\big(\Sigma_r + \Sigma_g - 2(\Sigma_r \Sigma_g)^{1/2}\big)",
     "FID says one model is better. What could it miss that your eyes would catch (or the reverse)?",
     "app_pages/fid.py", "Open FID (domain features: seconds)", {"kinds": "gan,vae,vaegan", "prior": "gmm"}),
    ("What a likelihood misses", 5,
     "A VAE gives every image a number, its ELBO: a bound on how likely the model finds it. So it should flag "
     "images unlike its training data. Read with a Bernoulli pixel likelihood, the Fashion-MNIST VAE finds MNIST "
     "digits *more* likely than its own garments: a likelihood rewards images that are easy to compress, and a "
     "digit is mostly black background. Its reconstruction error is not fooled.",
     r"\log p(x) \ge \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z))",
     "If a model finds a picture likely, does that make it a picture of what the model learnt?",
     "app_pages/anomalies.py", "Open Anomalies (the Fashion-MNIST VAE against MNIST)",
     {"dataset": "fashion-mnist", "kinds": "vae", "anomaly-tab": "Detecting other data", "anomaly-against": "mnist"}),
    ("Model collapse across generations", 7,
     "Train a model on the previous model's samples, again and again: rare images vanish first (the tails), then "
     "the variety shrinks. Fresh real data, or keeping all earlier data, slows it. This is why the web's growing "
     "share of generated images matters.",
     r"\sigma_{n+1}^2 = \tfrac{1}{M-1}\textstyle\sum_i (x_i - \bar{x})^2,\ x_i \sim \mathcal{N}(\mu_n, \sigma_n^2)"
     r"\ \Rightarrow\ \sigma_n \to 0",
     "Which family lost its rare digits fastest? Is the difference bigger than the spread between seeds?",
     "app_pages/collapse.py", "Open Collapse (studies across generations)",
     {"collapse-tab": "Images", "collapse-loop": "synthetic"}),
]

