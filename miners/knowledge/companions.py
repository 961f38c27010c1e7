"""Curated knowledge the guard needs and WordNet lacks, each entry with its reason.

``ROLES``: role and category nouns that cover a thing without being its WordNet ancestor ("pet"
for a dog, "toy" for a kite, "tableware" for a mug). If the thing is in the image, the image
shows one of these, so they are never negatives for it.

``COMPANIONS``: things nearly always pictured with a thing (oars with a rowing boat, a saddle on a
riding horse, candles on a birthday cake): a detector asked for them would find them in the
image. Both are keyed by WordNet 3.0 synset names and match the positive's visual sense or
anything below it (see ``Knowledge.under``); a test checks every name exists in the graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardneg.miners.knowledge.knowledge import Knowledge

__all__ = ["COMPANIONS", "ROLES", "companions_of", "roles_covering"]

# role phrase -> (synsets it covers, why)
ROLES: dict[str, tuple[tuple[str, ...], str]] = {
    "pet": (("dog.n.01", "domestic_cat.n.01", "hamster.n.01", "guinea_pig.n.02", "goldfish.n.01", "budgerigar.n.01", "rabbit.n.01"), "commonly kept as a pet"),
    "livestock": (("cattle.n.01", "sheep.n.01", "goat.n.01", "hog.n.03", "horse.n.01"), "farm animals are livestock"),
    "poultry": (("domestic_fowl.n.01", "duck.n.01", "goose.n.01", "turkey.n.01"), "domestic birds are poultry"),
    "wildlife": (("bear.n.01", "deer.n.01", "wolf.n.01", "fox.n.01"), "wild animals are wildlife"),
    "toy": (("kite.n.03", "teddy.n.01", "doll.n.01", "ball.n.01", "yo-yo.n.01", "hobby.n.02", "frisbee.n.01", "top.n.08"), "a plaything is a toy"),
    "sports ball": (("ball.n.01",), "COCO calls every ball a sports ball"),
    "sports equipment": (("sports_equipment.n.01", "ball.n.01", "ski.n.01", "racket.n.04", "skateboard.n.01", "surfboard.n.01"), "equipment used in a sport"),
    "kitchenware": (("kitchen_utensil.n.01", "pan.n.01", "pot.n.01", "kettle.n.01", "colander.n.01", "spatula.n.02", "ladle.n.01", "whisk.n.02"), "used in a kitchen"),
    "cookware": (("cooking_utensil.n.01", "pan.n.01", "pot.n.01", "wok.n.01"), "used for cooking"),
    "tableware": (("tableware.n.01", "mug.n.04", "cup.n.01", "plate.n.04", "bowl.n.03", "glass.n.02", "cutlery.n.02", "teapot.n.01"), "used at the table"),
    "dishware": (("crockery.n.01", "mug.n.04", "cup.n.01", "plate.n.04", "bowl.n.03"), "dishes are dishware"),
    "produce": (("edible_fruit.n.01", "vegetable.n.01", "produce.n.01"), "fruit and vegetables are produce"),
    "appliance": (("home_appliance.n.01", "toaster.n.02", "microwave.n.02", "electric_refrigerator.n.01", "dishwasher.n.01", "blender.n.01"), "a household appliance"),
    "electronics": (("electronic_equipment.n.01", "computer.n.01", "telephone.n.01", "television_receiver.n.01", "camera.n.01"), "an electronic device"),
    "device": (("computer.n.01", "telephone.n.01", "tablet.n.01"), "an electronic device"),
    "accessory": (("accessory.n.01", "bag.n.04", "belt.n.02", "necktie.n.01", "scarf.n.01", "sunglasses.n.01", "watch.n.01"), "worn or carried as an accessory"),
    "stationery": (("writing_implement.n.01", "paper.n.01", "envelope.n.01", "notebook.n.01", "stapler.n.01"), "office and writing supplies"),
    "luggage": (("bag.n.06", "backpack.n.01", "trunk.n.02"), "carried when travelling"),
    "dessert": (("cake.n.03", "ice_cream.n.01", "pie.n.01", "pudding.n.01", "cookie.n.01", "pastry.n.02"), "eaten as a dessert"),
    "snack": (("cookie.n.01", "chip.n.04", "pretzel.n.01", "popcorn.n.02", "candy_bar.n.01"), "eaten as a snack"),
    "bedding": (("bedclothes.n.01", "pillow.n.01", "blanket.n.01", "quilt.n.01", "sheet.n.03"), "on a bed"),
    "toiletries": (("toiletry.n.01", "toothbrush.n.01", "toothpaste.n.01", "soap.n.01", "shampoo.n.01"), "personal care items"),
    "vegetation": (("plant.n.02", "tree.n.01", "shrub.n.01", "grass.n.01", "flower.n.01"), "plants are vegetation"),
    "greenery": (("plant.n.02", "tree.n.01", "shrub.n.01", "grass.n.01"), "plants are greenery"),
}  # fmt: skip

# synset of the thing -> (phrases nearly always pictured with it, why)
COMPANIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "rowing_boat.n.01": (("oar", "oars", "paddle"), "rowed with oars"),
    "canoe.n.01": (("paddle", "oar"), "paddled"),
    "kayak.n.01": (("paddle",), "paddled"),
    "saddle_horse.n.01": (("saddle", "bridle", "rein", "stirrup", "rider"), "ridden with tack"),
    "horse.n.01": (("saddle", "bridle", "halter", "rein"), "usually pictured with its tack"),
    "stagecoach.n.01": (("horse", "coachman"), "horse-drawn"),
    "carriage.n.02": (("horse",), "horse-drawn"),
    "cart.n.01": (("horse", "donkey", "ox"), "drawn by an animal"),
    "wagon.n.01": (("horse",), "horse-drawn"),
    "sled.n.01": (("snow",), "used on snow"),
    "dogsled.n.01": (("dog", "husky", "snow"), "pulled by dogs on snow"),
    "dog.n.01": (("leash", "collar", "dog collar"), "usually pictured with its collar or leash"),
    "birthday_cake.n.01": (("candle", "candles", "frosting", "icing"), "topped with candles and icing"),
    "wedding_cake.n.01": (("frosting", "icing", "cake topper"), "decorated with icing"),
    "christmas_tree.n.05": (("ornament", "christmas ornament", "bauble", "tinsel", "christmas lights", "string lights"), "decorated"),
    "candle.n.01": (("flame", "wick", "candlestick", "candle holder"), "burning in its holder"),
    "laptop.n.01": (("screen", "keyboard", "touchpad", "computer screen"), "part of it in every view"),
    "cellular_telephone.n.01": (("screen", "touch screen", "display"), "its face is a screen"),
    "motor_vehicle.n.01": (("license plate", "number plate", "headlight", "headlights", "tire", "tyre", "tires", "windshield", "windscreen", "wheel", "driver"), "always has them"),
    "bicycle.n.01": (("tire", "tyre", "wheel", "pedal", "chain", "bicycle chain", "handlebar", "saddle", "bicycle seat"), "always has them"),
    "motorcycle.n.01": (("tire", "tyre", "wheel", "handlebar", "helmet", "rider", "headlight"), "always has them or a rider"),
    "ski.n.01": (("ski pole", "ski boot", "snow", "skier"), "used with poles and boots on snow"),
    "snowboard.n.01": (("snow", "snowboarder"), "used on snow"),
    "surfboard.n.01": (("wave", "water", "surfer"), "used on waves"),
    "ice-cream_cone.n.01": (("ice cream", "cone", "wafer", "scoop"), "holds ice cream"),
    "cone.n.03": (("ice cream",), "holds ice cream"),
    "pizza.n.01": (("cheese", "crust", "tomato sauce", "pizza crust"), "its toppings and crust"),
    "hamburger.n.01": (("bun", "hamburger bun", "patty", "burger patty", "beef patty"), "made of them"),
    "hotdog.n.02": (("bun", "sausage", "frank", "hot dog bun"), "made of them"),
    "sandwich.n.01": (("bread", "slice of bread"), "made of bread"),
    "fishing_rod.n.01": (("fishing line", "reel", "fishing reel"), "always has them"),
    "kite.n.03": (("kite string", "string", "sky"), "flown on a string"),
    "tennis_racket.n.01": (("strings", "racket strings"), "always has them"),
    "toothbrush.n.01": (("bristle", "bristles"), "always has them"),
    "umbrella.n.01": (("canopy", "umbrella handle", "rib"), "always has them"),
    "sailboat.n.01": (("sail", "mast"), "always has them"),
    "bed.n.01": (("mattress", "pillow", "sheet", "bedsheet", "blanket"), "usually made"),
    "pot_plant.n.01": (("pot", "flowerpot", "plant pot", "soil"), "in its pot"),
}  # fmt: skip


def roles_covering(knowledge: Knowledge, phrase: str) -> dict[str, str]:
    """Role phrase -> why, for every role that covers the phrase's visual sense."""
    return {
        role: why
        for role, (synsets, why) in ROLES.items()
        if any(knowledge.under(phrase, s) for s in synsets)
    }


def companions_of(knowledge: Knowledge, phrase: str) -> dict[str, str]:
    """Companion phrase -> why, for every companion of the phrase's visual sense."""
    out: dict[str, str] = {}
    for synset, (phrases, why) in COMPANIONS.items():
        if knowledge.under(phrase, synset):
            for p in phrases:
                out.setdefault(p, f"{why} ({synset})")
    return out
