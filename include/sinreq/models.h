/* sinreq: the paper's networks (src/models), docs/method.md, Networks.
 *
 *   cifar10net  conv6-5x5, pool, conv16-5x5, pool, fc 400-120-84-10 (3x32x32)
 *   svhnnet     conv3x3 + relu + dropout(0.3): 32 32 M 64 64 M 128 128 M
 *               256(pad 0) M, fc 256-10 (3x32x32)
 *   resnet20    CIFAR ResNet, 3 x 3 basic blocks, 1x1 conv + BN projection
 *               shortcuts at the stride-2 stages (3x32x32)
 *   vgg11       VGG config A with BN, fc 512-10 (3x32x32)
 *   alexnet     torchvision AlexNet (3x224x224)
 *   resnet18    torchvision ResNet-18 (3x224x224)
 * Layer and parameter names follow the PyTorch modules (the authors' code
 * for the CIFAR/SVHN nets, torchvision for the ImageNet nets), e.g.
 * "layer3.1.conv2.weight", "features.0.weight", "classifier.weight".
 *
 * width multiplies every hidden layer's channel/feature count (WRPN
 * widening); the input channels and the class count stay as given.
 */
#ifndef SINREQ_MODELS_H
#define SINREQ_MODELS_H

#include "sinreq/nn.h"

typedef struct sr_model_opts {
    const char *name;   /* one of sr_model_names(), or a network file
                           (a path ending in .yaml/.yml, sinreq/netfile.h) */
    int batch;          /* > 0 */
    int num_classes;    /* 0: the network's default (10, or 1000) */
    int width;          /* 1..8; 0 means 1 */
    int in_c, in_h, in_w; /* 0: the network's default input */
    const char *text;   /* a network file's text, parsed instead of reading
                           the file `name` (which then only labels
                           messages): a model file's stored network */
} sr_model_opts;

/* Build the graph (no backend yet). Unknown names give an error that lists
 * the valid ones; an input the network cannot take (28x28 into AlexNet, any
 * size but 32x32 into the nets with fixed fc inputs) gives a shape error
 * naming the layer. */
sr_status sr_model_build(const sr_model_opts *o, sr_nn **out);

/* "cifar10net, svhnnet, resnet20, vgg11, alexnet, resnet18" */
const char *sr_model_names(void);
int sr_model_count(void);
/* " (did you mean resnet20?)" for a mistyped network name, else "". */
const char *sr_model_suggest(const char *name);
const char *sr_model_name(int i);
/* The default input and class count of a network. */
sr_status sr_model_defaults(const char *name, int *c, int *h, int *w,
                            int *classes);

#endif
