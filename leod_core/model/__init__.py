"""RVT recurrent MaxViT backbone, PAFPN, YOLOX head, SimOTA and losses, post-processing."""
