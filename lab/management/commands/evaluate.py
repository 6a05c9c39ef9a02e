"""``python manage.py evaluate [--sample 4000] [--seed 0] [--dims 256] [--no-rerank]
[--queries held-out|all] [--photos 300] [--no-head]``

Precision of "find similar" (see ``lab.relevance``) on the held-out
split (products no similarity head is trained or tuned on; ``--queries all`` samples the
whole catalogue instead), for the raw backbone; then, side by side, the raw backbone and
the active configuration (the active similarity head + colour for find similar; raw vector
+ colour or photo search's learned space for photo search), with ``--photos`` synthetic
shopper photos of held-out products (the standard and hard sets, ``--photo-profiles``)
searched through photo search's ranking (they need the model; ``--photos 0`` skips them).
``--dims 0`` evaluates the full 2048-dim vectors; without a stored PCA projection one is
fitted in memory for the evaluation only. Nothing is written to the database.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from lab import real_photos, relevance
from visualsearch.conf import vs_settings
from visualsearch.index.loading import active_head_load
from visualsearch.ml.shopper_photos import PROFILES
from visualsearch.selectors import localiser_active

REAL_PHOTO = "real-photo"


class Command(BaseCommand):
    help = "Precision of 'find similar' and photo search on the held-out products: raw backbone vs active head."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sample", type=int, default=4000, help="Products to query (all when larger).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random sample.")
        parser.add_argument("--dims", type=int, help="PCA dimensions (0: full 2048). Default: VISUALSEARCH_INDEX_DIMS.")
        parser.add_argument("--no-rerank", action="store_true", help="Rank by the projected vectors alone.")
        parser.add_argument("--worst", type=int, default=10, help="How many worst article types to list.")
        parser.add_argument("--min-queries", type=int, default=5, help="Fewer queries: left out of 'worst'.")
        parser.add_argument(
            "--queries",
            choices=("held-out", "all"),
            default="held-out",
            help="Query the held-out split only (default) or a sample of every product.",
        )
        parser.add_argument("--photos", type=int, default=300, help="Shopper photos to search (0: none).")
        parser.add_argument(
            "--photo-profiles",
            nargs="+",
            choices=[*sorted(PROFILES), REAL_PHOTO],
            default=["standard", "hard", REAL_PHOTO],
            help="Which shopper-photo sets to search (visualsearch/ml/shopper_photos.py; real-photo: held-out "
            "products small in generated scenes, through the item localiser, lab/real_photos.py).",
        )
        parser.add_argument("--real-photos", type=int, default=150, help="One-item photos of the real-photo profile.")
        parser.add_argument(
            "--two-item-photos", type=int, default=75, help="Two-item photos of the real-photo profile."
        )
        parser.add_argument(
            "--localiser-photos",
            type=int,
            default=100,
            help="With real-photo: this many standard/hard shopper photos also searched through the localiser.",
        )
        parser.add_argument("--no-head", action="store_true", help="Leave the active similarity head out.")

    def handle(self, *args: object, sample: int, seed: int, dims: int | None, no_rerank: bool, **options) -> None:
        if sample < 1:
            raise CommandError("--sample must be at least 1.")
        dims = int(vs_settings.INDEX_DIMS if dims is None else dims)
        rerank = 0 if no_rerank else int(vs_settings.RERANK_CANDIDATES)
        held_out = options["queries"] == "held-out"
        try:
            catalogue = relevance.load_catalogue()
            projection = relevance.choose_projection(catalogue, dims) if len(catalogue) > relevance.K else None
            common = {
                "sample": sample,
                "seed": seed,
                "dims": dims,
                "rerank_candidates": rerank,
                "held_out": held_out,
                "projection": projection,
            }
            report = relevance.evaluate_relevance(catalogue, **common)
        except relevance.TooFewProducts as exc:
            raise CommandError(str(exc)) from None
        if held_out and report.queries == 0:
            raise CommandError("No labelled product of the held-out split is analysed: use --queries all.")
        self.stdout.write(f"# queries from: {'the held-out split' if held_out else 'every product'}")
        for line in relevance.report_lines(
            report, dims=dims, seed=seed, worst=options["worst"], min_queries=options["min_queries"]
        ):
            self.stdout.write(line)
        head = None if options["no_head"] else active_head_load()
        configured = report
        label = "raw + colour"
        if head is not None:
            configured = relevance.evaluate_relevance(catalogue, **common, head=head.model, head_pk=head.pk)
            label = f"{head.version} + colour"
        twins = relevance.catalogue_twins(catalogue)
        self.stdout.write(
            f"# same-picture twins: {twins.products} products in {twins.groups} groups share a picture "
            f"(identical image checksum, or stored cosine >= {relevance.TWIN_COSINE}); photo figures count "
            "finding a twin as finding the product, the strict ones only the product itself"
        )
        photo_sets = []
        if options["photos"] > 0 and held_out:
            assert report.index is not None and configured.index is not None
            for profile in options["photo_profiles"]:
                if profile == REAL_PHOTO:
                    continue
                photos = relevance.embed_shopper_photos(catalogue, options["photos"], profile)
                raw_photos = relevance.evaluate_photos(catalogue, report.index, photos, colour_weight=0.0, twins=twins)
                configured_photos = relevance.evaluate_photos(catalogue, configured.index, photos, twins=twins)
                photo_sets.append((profile, raw_photos, configured_photos))
                seconds = photos.seconds
                self.stdout.write(f"# {photos.rows.size} {profile} shopper photos made and embedded in {seconds:.0f} s")
            space = configured.index.photo_projection
            self.stdout.write(
                "# photo search: "
                + (
                    f"learned space of {head.version if head else ''} ({space.dims} dims), "
                    f"colour weight {space.colour_weight}"
                    if space is not None
                    else f"raw vectors, colour weight {vs_settings.PHOTO_COLOUR_WEIGHT}"
                )
            )
        for line in relevance.comparison_lines(report, configured, photo_sets, label=label):
            self.stdout.write(line)
        if REAL_PHOTO in options["photo_profiles"] and held_out and options["real_photos"] + options["two_item_photos"]:
            assert configured.index is not None
            localiser = localiser_active()
            self.stdout.write(f"# item localiser: {localiser or 'none active (the default box)'}")
            bar = tqdm(desc="real-photo profile", unit="photo", disable=options["verbosity"] == 0)

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            real = real_photos.evaluate_real_photos(
                catalogue,
                configured.index,
                twins,
                one_item=options["real_photos"],
                two_item=options["two_item_photos"],
                progress=progress,
            )
            bar.close()
            for line in real_photos.report_lines(real):
                self.stdout.write(line)
            for profile in options["photo_profiles"]:
                if profile != REAL_PHOTO and options["localiser_photos"] > 0:
                    through = real_photos.evaluate_profile_through_localiser(
                        catalogue, configured.index, twins, profile, options["localiser_photos"]
                    )
                    for line in real_photos.profile_lines(through):
                        self.stdout.write(line)
