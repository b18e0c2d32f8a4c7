"""The glossary's terms (the Glossary page shows them; ``ui.term`` links a term's first use on a page to its entry):
per term, its anchor, its name and what it means, in words for a class. Plain data: no Streamlit import."""

TERMS = {
    "fid": ("FID (Fréchet Inception Distance)",
            "How far the generated images are from real ones, as two clouds of features: a fixed network turns each "
            "image into a feature vector, and FID compares the clouds' means and covariances. 0 is a perfect match; "
            "lower is better. It grows when samples are unrealistic *or* too alike, and it is biased upward for small "
            "samples, so compare FIDs at the same number of images only. *Domain* FID uses a small classifier "
            "trained on the dataset; *Inception* FID the network papers use."),
    "kid": ("KID (Kernel Inception Distance)",
            "Like FID, a distance between the features of real and generated images, but unbiased for small samples "
            "(a polynomial-kernel MMD). Its unit is the features' squared: about 0.01 with Inception's features, "
            "about 100 with the larger ones of the domain classifier, so compare KIDs of the same features only."),
    "is": ("IS (Inception Score)",
           "How confidently a classifier names each sample's class, and how evenly the classes are spread: "
           "exp(E KL(p(y|x) || p(y))). At most the number of classes (10 here); real test images score about 9.8 "
           "with our classifier. High IS can hide blur the classifier forgives."),
    "precision-recall": ("Precision and recall",
                         "Precision: the share of samples that fall where real images are (are samples realistic?). "
                         "Recall: the share of real images near some sample (is the variety of the data covered?). "
                         "Mode collapse keeps precision and loses recall."),
    "density-coverage": ("Density and coverage",
                         "Sturdier versions of precision and recall: density counts how many real neighbourhoods "
                         "each sample falls in (it can exceed 1), coverage the share of real neighbourhoods that hold "
                         "a sample."),
    "elbo": ("ELBO (in nats)",
             "The evidence lower bound a VAE maximises: reconstruction log-likelihood minus the KL divergence of the "
             "codes from the prior. In nats (natural-log units) per image; its negative is an anomaly score (a "
             "higher negative ELBO: an image the model finds less likely)."),
    "kl": ("KL divergence",
           "How different one probability distribution is from another, in nats; 0 when they are equal. In a VAE, "
           "the KL term pulls each image's code distribution towards the prior N(0, I)."),
    "logit": ("Logit",
              "A score before the squashing function: the discriminator's logit is any number; the sigmoid turns it "
              "into the probability that the image is real (logit 0 = 50 %)."),
    "gmm-prior": ("GMM prior",
                  "A Gaussian mixture fitted to the codes of the training images, once, after training. Sampling codes "
                  "from it, instead of from N(0, I), lands where the decoder was trained: sharper, more typical "
                  "samples from a VAE or a VAE-GAN. The GAN has no encoder, so it keeps N(0, I)."),
    "active-units": ("Active units",
                     "Latent dimensions whose code moves with the image (the variance across images of the code's "
                     "mean is above 0.01; Burda et al. 2016). An inactive unit carries nothing: posterior collapse "
                     "switches units off."),
    "mode-collapse": ("Mode collapse",
                      "A generator that draws only a few kinds of image, inside one training run: samples look fine, "
                      "variety is lost (low recall, classes missing)."),
    "model-collapse": ("Model collapse",
                       "Across generations of models trained on the previous model's samples: rare images vanish "
                       "first (the tails), then variety shrinks. Fresh real data slows it."),
    "posterior-collapse": ("Posterior collapse",
                           "A VAE whose codes carry (almost) nothing about the image: the KL term wins, the latent "
                           "units switch off, and the decoder draws an average image whatever the code."),
    "roc-auc": ("ROC AUC",
                "How well a score tells two groups apart: the probability that a random anomaly scores higher than "
                "a random normal image. 1 is perfect, 0.5 is chance, below 0.5 the score ranks them backwards."),
}


def term(anchor: str, text: str | None = None) -> str:
    """Markdown for a term's first use on a page: ``text`` (default: the term's name) linked to its Glossary entry
    (the page's own anchor, so the link opens the entry in the app, offline)."""
    return f"[{text or TERMS[anchor][0]}](glossary#{anchor})"
