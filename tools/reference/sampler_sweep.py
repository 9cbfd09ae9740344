"""Exploration of samplers for issue 8 (variety), in PyTorch for speed: reference data only.

Trains an input generator on the default pair as the TS trainer does (batch 64, Adam, KL, shift
4 px, torch's own RNG) with variations the product may or may not have, then grades 100 samples a
class with the frozen VGG and the judge (variety against fmnist_vgg_judge32_real.json's spreads).
Flags: --K components per class (picked uniformly); --beta: the KL's weight is 1/beta on the KL
summed over the 120 latent dims (the product's --kl-weight w, a mean over dims, is beta = 120/w:
w 0.2 is beta 600); --klmode closed (per-component closed form) or mc (Monte-Carlo KL of the
whole mixture, log-sum-exp over components); --flow N affine coupling layers after the Gaussian;
--anchor N: components start at farthest-apart latents among the --pool most confident of N prior
samples (needs /tmp/explore/prior.pt from posterior-style sampling: see tools/reference/posterior.py);
--hinge p: per-sample CE hinged at -log p; --var: the paper's variance term; --fixmu: only sigma
learns; --sigma0: initial sigma. Results of the runs made: results/sampler_sweep.md.

Written in a hurry to compare ideas; the product's versions are src/train/inputGenerator.ts,
anchors.ts and pipeline.ts. Since run `fa` the mu head is zero-initialised when anchored (earlier
anchored runs kept nn.Linear's init).
"""
import os, sys, json, math, time, argparse, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import VGG, BigGANGenerator, load_state_dict, upsample, translate
P='/work/shared/pretrained'
ap=argparse.ArgumentParser()
ap.add_argument('--K',type=int,default=8); ap.add_argument('--beta',type=float,default=5); ap.add_argument('--steps',type=int,default=300)
ap.add_argument('--lr',type=float,default=3e-3); ap.add_argument('--shift',type=int,default=4); ap.add_argument('--seed',type=int,default=0)
ap.add_argument('--batch',type=int,default=64); ap.add_argument('--hidden',type=int,default=256); ap.add_argument('--klmode',default='mc')
ap.add_argument('--warm',type=int,default=0); ap.add_argument('--flow',type=int,default=0); ap.add_argument('--spread',type=float,default=0); ap.add_argument('--anchor',type=int,default=0); ap.add_argument('--hinge',type=float,default=0); ap.add_argument('--sigma0',type=float,default=0); ap.add_argument('--var',type=float,default=0); ap.add_argument('--fixmu',type=int,default=0); ap.add_argument('--pool',type=int,default=64); ap.add_argument('--fh',type=int,default=256)
a=ap.parse_args()
torch.set_num_threads(2); torch.manual_seed(a.seed)
G=BigGANGenerator(load_state_dict(f'{P}/fmnist_biggan32_G.pth')); V=VGG(load_state_dict(f'{P}/fmnist_vgg_bn64.pth')); J=VGG(load_state_dict(f'{P}/fmnist_vgg_judge32.pth'))
for n in (G,V,J):
  for p in n.parameters(): p.requires_grad_(False)
real=json.load(open(f'{P}/fmnist_vgg_judge32_real.json'))['within_class_spread_100']
D=120; K=a.K; C=10
class IG(nn.Module):
  def __init__(s):
    super().__init__(); s.t1=nn.Linear(C,a.hidden); s.t2=nn.Linear(a.hidden,a.hidden); s.mu=nn.Linear(a.hidden,K*D); s.sg=nn.Linear(a.hidden,K*D)
  def forward(s,c):
    h=F.relu(s.t2(F.relu(s.t1(F.one_hot(c,C).float()))))
    mu=s.mu(h).view(-1,K,D)
    if a.anchor: mu=mu+ANCH[c]
    return mu, (F.softplus(s.sg(h))+1e-3).view(-1,K,D)
class Coupling(nn.Module):
  def __init__(s,flip):
    super().__init__(); s.flip=flip; s.l1=nn.Linear(D//2+C,a.fh); s.l2=nn.Linear(a.fh,a.fh); s.out=nn.Linear(a.fh,D)
    nn.init.zeros_(s.out.weight); nn.init.zeros_(s.out.bias)
  def forward(s,z,oh):
    za,zb=(z[:,D//2:],z[:,:D//2]) if s.flip else (z[:,:D//2],z[:,D//2:])
    h=s.out(F.relu(s.l2(F.relu(s.l1(torch.cat([za,oh],1))))))
    sc=torch.tanh(h[:,:D//2])*2; zb=zb*torch.exp(sc)+h[:,D//2:]
    return (torch.cat([zb,za],1) if s.flip else torch.cat([za,zb],1)), sc.sum(1)
ANCH=None
if a.anchor:
  d=torch.load(os.environ.get('PRIOR', '/tmp/explore/prior.pt')); Zp,PVp=d['Z'][:a.anchor],d['PV'][:a.anchor]
  A=[]
  for c in range(C):
    cand=PVp[:,c].argsort(descending=True)[:a.pool]; pts=Zp[cand]; sel=[0]
    while len(sel)<K:
      dist=torch.cdist(pts,pts[sel]).min(1).values; sel.append(int(dist.argmax()))
    A.append(pts[sel]); print('class',c,'anchor confidences',[round(x,2) for x in PVp[cand[sel],c].tolist()])
  ANCH=torch.stack(A)
ig=IG()
if a.anchor:
  with torch.no_grad(): ig.mu.weight.zero_(); ig.mu.bias.zero_()
if a.sigma0:
  with torch.no_grad(): ig.sg.bias.fill_(math.log(math.expm1(a.sigma0)))
if a.spread:
  with torch.no_grad(): ig.mu.bias.copy_(torch.randn(K*D)*a.spread)
flows=nn.ModuleList([Coupling(i%2==1) for i in range(a.flow)])
opt=torch.optim.Adam([p for n,p in ig.named_parameters() if not (a.fixmu and n.startswith('mu.'))]+list(flows.parameters()),lr=a.lr)
def sample(c,eps,comp):
  mu,sg=ig(c); r=torch.arange(len(c))
  z=mu[r,comp]+sg[r,comp]*eps
  if not a.flow: return z,mu,sg
  oh=F.one_hot(c,C).float(); ld=0
  for f in flows: z,l=f(z,oh); ld=ld+l
  global LOGDET; LOGDET=ld
  return z,mu,sg
t0=time.time()
for step in range(1,a.steps+1):
  c=torch.randint(C,(a.batch,)); eps=torch.randn(a.batch,D); comp=torch.randint(K,(a.batch,))
  z,mu,sg=sample(c,eps,comp)
  x=upsample(G(z),2)
  if a.shift: dy,dx=(torch.randint(2*a.shift+1,(2,))-a.shift).tolist(); x=translate(x,dy,dx)
  lg=V(x); ce=F.cross_entropy(lg,c)
  cel=F.relu(F.cross_entropy(lg,c,reduction='none')+math.log(a.hinge)).mean() if a.hinge else ce
  if a.flow:  # K=1 base: log q(z) = log N(eps) - sum log sigma - logdet
    lq=-0.5*(eps**2).sum(1)-sg[:,0].log().sum(1)-LOGDET
    kl=(lq+0.5*(z**2).sum(1)).mean()
  elif a.klmode=='mc':
    lq=torch.logsumexp(-0.5*(((z[:,None,:]-mu)/sg)**2).sum(2)-sg.log().sum(2),1)-math.log(K)
    lp=-0.5*(z**2).sum(1)
    kl=(lq-lp).mean()
  else:  # closed form per component, mean over components (an upper bound-ish surrogate)
    kl=(0.5*(sg**2+mu**2-1)-sg.log()).sum(2).mean()
  w=1/a.beta if step>a.warm else 1/a.beta*step/max(a.warm,1)
  loss=cel+w*kl-a.var*sg.log().mean()
  opt.zero_grad(); loss.backward(); opt.step()
  if step%25==0: print(f'step {step} ce {ce.item():.3f} acc {(lg.argmax(1)==c).float().mean().item():.2f} kl {kl.item():.1f} sigma {sg.mean().item():.3f} |mu| {mu.abs().mean().item():.3f} {time.time()-t0:.0f}s',flush=True)
g=torch.Generator().manual_seed(1234)
with torch.no_grad():
  cls=torch.arange(C).repeat_interleave(100); comp=torch.randint(K,(len(cls),),generator=g)
  z,_,_=sample(cls,torch.randn(len(cls),D,generator=g),comp); im=G(z)
  fz=(V(upsample(im,2)).argmax(1)==cls).float().view(C,100).mean(1)
  jl,jf=J(im,return_features=True); ja=(jl.argmax(1)==cls).float().view(C,100).mean(1)
  var=[]
  for k in range(C):
    f=jf[k*100:(k+1)*100]; dd=torch.cdist(f,f); var.append((dd.sum()/(100*99)).item()/real[str(k)])
print(f'RESULT fixmu={a.fixmu} var={a.var} sigma0={a.sigma0} hinge={a.hinge} anchor={a.anchor} flow={a.flow} K={K} beta={a.beta} shift={a.shift} steps={a.steps} lr={a.lr} kl={a.klmode}: frozen {fz.mean():.3f} judge {ja.mean():.3f} variety {sum(var)/10:.3f}')
print(' judge', [round(x,2) for x in ja.tolist()], 'var', [round(x,2) for x in var], 'frozen', [round(x,2) for x in fz.tolist()])
