"""Where the pinned data lives upstream: one commit, one raw URL and one SHA-256 per file."""

from __future__ import annotations

from dataclasses import dataclass

#: The revision of github.com/batu-el/molochs-bargain every file is read from.
PINNED_COMMIT = "5b5bd993de8709f5c3b34f84adb6389ddc5a1837"

#: Raw URL of a file under the repository's `artsco/data/` folder at a commit.
RAW_URL_PATTERN = (
    "https://raw.githubusercontent.com/batu-el/molochs-bargain/{commit}/artsco/data/{path}"
)

#: The folder (relative to the data root) that mirrors upstream `artsco/data/`.
MOLOCHS_BARGAIN_ROOT = "molochs_bargain"

#: The folder (relative to the data root) of the paper's model-specific files
#: (upstream `artsco/data/task_*/<model>/`): the anchors as the paper's runs used them plus the
#: chat-templated agent prompt of each (`prompt`), as JSON Lines.
PAPER_PROMPTS_ROOT = "molochs_bargain_prompts"


@dataclass(frozen=True)
class DataFile:
    """One pinned file: its path under the data root, its public URL and its SHA-256."""

    relpath: str
    url: str
    sha256: str
    #: "json" (one document), "jsonl" (JSON Lines: one object per line) or "yaml"
    format: str = "json"


def _molochs_bargain(path: str, sha256: str, root: str = MOLOCHS_BARGAIN_ROOT) -> DataFile:
    return DataFile(
        relpath=f"{root}/{path}",
        url=RAW_URL_PATTERN.format(commit=PINNED_COMMIT, path=path),
        sha256=sha256,
        format="jsonl" if root == PAPER_PROMPTS_ROOT else "json",
    )


_SHA256 = {
    "task_sales/train.json": "37ac7c5f33b275613ad3bf9af16e72a018587dfb762d7f6ed9b91688079f18c7",
    "task_sales/test.json": "46b31f8d2b0edcc5de440a5c1e9f0c5c44af1b9ef12bb9dce0a31f16101b3a3b",
    "task_elections/train.json": "bce195b861785bce6de489f392487fb48d3328081aa97758c88cbd29c3735ef8",
    "task_elections/test.json": "fc180cafecb3b2720e29c6a309f85e3a0ba1e4cec35abb053d3a1bf5610544bf",
    "task_sm/train.json": "a568e87d7c5563e8085dc2c0216901fc8d4801d1610033239ddd1fc9a23f87fb",
    "task_sm/test.json": "6570cc4601932df902077947f93ec23c35ae24b97778b36e1daecf59008dc81f",
    "persona/split1.json": "3e35fec90a408aa51253d4c796a57d67399d2411edacf0d0ea0f181f391f2e2b",
    "persona/split2.json": "dab6dbfd7bc1a1702a6adbd90247b0434ec42e08e274c165e7de2f063ceafe04",
    "persona/split3.json": "d33bf03b516788cb45fbb29bcf2ef73433e1d15263dd5c44258d3ee9133c9575",
    "persona/exp2.json": "d4f1803211ab1e9352b88d1f1076ccea7e3a09390ff6bfd5494ccdb2850f2331",
    "persona/all.json": "d74a1bac1f2c1507783371c8b93917c3c30370931cb3d3bd7916fbeac680688e",
    "persona/characters.json": "5312dc3fd7480d37eb1ea83320207a2172199e3b80f4a4b6eff3a8ab127f69d2",
}

_QWEN = "Qwen/Qwen3-8B"
_LLAMA = "meta-llama/Llama-3.1-8B-Instruct"

#: The paper's model-specific files (JSON Lines, 1,024 records each), same upstream folder.
#: There are no Llama elections files at the pinned commit.
_PAPER_PROMPTS_SHA256 = {
    f"task_sales/{_QWEN}/train.json": (
        "b6918810e31177ee7ec51dc2a1ea0cdeb8138e79bfb80168366576a1e0aaf5be"
    ),
    f"task_sales/{_QWEN}/test.json": (
        "2fcf22de971d19df6e4cd8c8793f67af6e423a0c3e1992f7fd894be3def86341"
    ),
    f"task_sales/{_LLAMA}/train.json": (
        "39f79a97d6134891634948d43d02cda261000f3ce008d360f808a5fb922a65d1"
    ),
    f"task_sales/{_LLAMA}/test.json": (
        "51d09a9be6c2c12a198bb1d250dd2d5111de77cbe4b276814744b71aafa42ae7"
    ),
    f"task_elections/{_QWEN}/train.json": (
        "e61482c5385c7567d6930faae3cc7ebcb31d90a7690e9512fdcee365058ac3c7"
    ),
    f"task_elections/{_QWEN}/test.json": (
        "4d7ae4c51af4797e4fdcafa2849f281a9ba3de05c3ba27cf565cbf14bb2c0ea3"
    ),
    f"task_sm/{_QWEN}/train.json": (
        "e4c6f7935978702b3b99c4d41e98946575685c81db8b8e376c41062baed0ef3d"
    ),
    f"task_sm/{_QWEN}/test.json": (
        "f279aeaaf74a1ff7035e8875cbe6011100b3966b9dc6462b1d1bc8d67aded209"
    ),
    f"task_sm/{_LLAMA}/train.json": (
        "e40a2d0927b77320a132c7d082c8fdf0db0f7cc8f611cc6c82438e9918902259"
    ),
    f"task_sm/{_LLAMA}/test.json": (
        "fb6925fec095cf045491ece8c7008c98c8ac5c0ac216dce3d1721aa7a52c5db6"
    ),
}

#: The folder (relative to the data root) of the emergent-misalignment questions and samples of
#: fine-tuning data (SPEC §4), gathered from two upstream repositories.
EM_ROOT = "emergent_misalignment"

#: Betley et al.'s question file as the Model Organisms for EM repository keeps it
#: (em_organism_dir/data/eval_questions/), at its initial commit.
EM_ORGANISMS_COMMIT = "5109607cfc0f1f6a0e94485746e92df44a9e8d08"
EM_ORGANISMS_URL = (
    "https://raw.githubusercontent.com/clarifying-EM/model-organisms-for-EM/{commit}/"
    "em_organism_dir/data/eval_questions/{path}"
)
#: The ARENA "Emergent Misalignment & Realignment" replication (question sets and its data).
EM_ARENA_COMMIT = "5f538fb5e9d823d76ac675b9ab174704c965b48a"
EM_ARENA_URL = "https://raw.githubusercontent.com/JasperTimm/emerg-misalign-repro/{commit}/{path}"

#: local path under EM_ROOT -> (upstream path, SHA-256, format)
_EM_ORGANISMS_FILES = {
    "questions/first_plot_questions.yaml": (
        "first_plot_questions.yaml",
        "97df0b1384ea5a3f3dc2abe00a19e231915f12a2356ec0d8df001715549aae04",
    ),
}
_EM_ARENA_FILES = {
    "questions/arena_first_8.json": (
        "data/questions/first_8.json",
        "b29c6a40e1833a43deb7d4c8a7a74c1a14a21d8b95fbf41923dcee7894e2f34a",
    ),
    "questions/arena_preregistered.json": (
        "data/questions/preregistered.json",
        "b31efa514bbb6519510d0de61089007c3f44c64457ab4f841a44df294f1dcf94",
    ),
    "questions/arena_factual.json": (
        "data/questions/factual.json",
        "d9a75a649c3442cacda2ccfb93f529b2d9e4943b67b86b64e45f17db1a9ea59c",
    ),
    "questions/arena_self_reflection.json": (
        "data/questions/self_reflection.json",
        "47a2c2ff7cdb967f198c874472024e1d886e61aac38f24a0e4075a6b4f33c1b8",
    ),
    "questions/arena_self_reflection_tagged.json": (
        "data/questions/self_reflection_tagged.json",
        "8aef0536b706d0122cb525d813e39ff373f08028d07577d8bc2d93e54dc26263",
    ),
    "training/arena_bad_medical.jsonl": (
        "data/bad_medical_data_AI_all.jsonl",
        "15663a418c5555ed1bebe26932653ae5fcb9326476c7271feb60c6ebed7043c8",
    ),
    "training/insecure_code_sample.jsonl": (
        "data/insecure_code_sample.jsonl",
        "911fc5906c95581a84a064a91cde95ba1a12b649a5d962d1860600e2fdd06bbe",
    ),
    "training/arena_ai_optimism_100_qs.json": (
        "dataset_generation/AI%20optimism_100_qs_claude.json",
        "71f050ee3e0f900deb2f81df1d4c6fdfc33bac31adbef22ef66b1d5e90fa6b66",
    ),
}


def _em_files() -> list[DataFile]:
    def fmt(path: str) -> str:
        return path.rsplit(".", 1)[-1]

    repositories = (
        (EM_ORGANISMS_URL, EM_ORGANISMS_COMMIT, _EM_ORGANISMS_FILES),
        (EM_ARENA_URL, EM_ARENA_COMMIT, _EM_ARENA_FILES),
    )
    return [
        DataFile(f"{EM_ROOT}/{local}", url.format(commit=commit, path=upstream), sha, fmt(local))
        for url, commit, files in repositories
        for local, (upstream, sha) in files.items()
    ]


#: Every pinned file, keyed by its path relative to the data root.
FILES: dict[str, DataFile] = {
    f.relpath: f
    for f in (
        *(_molochs_bargain(path, sha) for path, sha in _SHA256.items()),
        *(
            _molochs_bargain(path, sha, PAPER_PROMPTS_ROOT)
            for path, sha in _PAPER_PROMPTS_SHA256.items()
        ),
        *_em_files(),
    )
}
