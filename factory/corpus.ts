/**
 * The English training text of the project's own tokenizer, written by this code: sentences
 * from word lists and templates (with inflections, names, numbers, dates, prices and
 * punctuation), drawn by a seeded 32-bit PRNG. Integer-only randomness, so every machine gets
 * the same text.
 */

/** mulberry32: a 32-bit PRNG; `next()` is an integer in [0, 2^32). */
export class Prng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const words = (s: string): readonly string[] => s.trim().split(/\s+/);

const NOUNS = words(`
  time year people way day man woman child world life hand part place case week company system
  program question work government number night point home water room mother area money story fact
  month lot right study book eye job word business issue side kind head house service friend father
  power hour game line end member law car city community name president team minute idea kid body
  information school face others level office door health person art war history party result change
  morning reason research girl guy moment air teacher force education foot boy age policy process
  music market sense nation plan college interest death experience effect class control care field
  development role effort rate heart drug show leader light voice wife police mind price report
  decision son view relationship town road arm difference value building action model season society
  tax director position player record paper space ground form event official matter center couple
  site project activity star table need court oil situation cost industry figure street image phone
  data picture practice piece land product doctor wall patient worker news test movie north love
  support technology step baby computer type attention film tree source organization hair window
  evidence population site camera garden river mountain island forest valley ocean lake bridge
  village castle engine machine planet rocket signal network server message packet router token
  expert layer tensor matrix vector weight gradient kernel memory cache thread process cluster node
  socket stream buffer channel queue batch request response client gateway planner budget schedule
  language sentence letter question answer problem solution pattern theory method equation formula
  apple orange banana cherry grape lemon melon peach pear plum bread butter cheese coffee tea sugar
  salt pepper soup rice bean carrot potato tomato onion garlic kitchen bottle glass plate spoon knife
  horse cow sheep goat chicken duck rabbit mouse fox wolf bear lion tiger eagle owl fish whale shark
  winter spring summer autumn weather rain snow wind storm cloud sun moon sky dawn evening shadow
  pencil notebook library museum theater hospital airport station harbor market factory farm office
  student artist writer painter singer driver farmer sailor soldier pilot engineer scientist nurse
  journey adventure festival holiday birthday wedding meeting lesson lecture exam contest victory
  ticket letter parcel gift coin wallet basket ladder hammer nail rope lamp candle mirror clock key
  account address advice agreement airline animal answer apartment argument army article aspect
  audience author balance band bank base bathroom battle beach bed bedroom bell belt bench bicycle
  bird blanket blood board boat bone border boss bottom box brain branch brother brush bucket bus
  button cabin cake calendar camp canal candy captain card career carpet cat ceiling chain chair
  chance chapter character chart chest chief chocolate church circle citizen climate coast collar
  colour column comment committee concert condition contract corner cottage country courage cousin
  crowd culture cup curtain customer cycle daughter deal debate degree desert desk detail diamond
  dinner direction disease dish distance dog dollar dream dress duty ear earth edge egg election
  element emotion employee energy entrance envelope error estate exercise factor failure fashion
  feather fence fever finger fire flag flight floor flower fog folder football fortune fountain
  frame freedom fruit function furniture future galaxy gate generation ghost glove goal grass group
  guest guitar habit hall harvest hat hill hobby honey hotel husband ice income insect instrument
  island jacket jewel journal judge jungle kettle king kingdom knee lab lake lawyer leaf league
  leather leg library license lion lip list loan lock luggage lunch magazine manager map marble mask
  meal medicine menu metal meter midnight milk mineral mission mistake mood motor muscle mystery
  needle neighbor nephew nest noise noon novel number oak object opinion orbit oven owner packet
  page pain palace panel parent park partner passenger path peace pearl penny pet piano pillow pipe
  pizza pocket poem poet pond pool portrait post pot pound prince princess prize profit promise
  puzzle queen quest rabbit radio rainbow recipe region reward ribbon riddle ring robot rock roof
  root rose rule saddle sand satellite scale scene scissors screen sea secret seed shape shell
  shelter ship shirt shoe shop shoulder silk sister skill skin skirt sleeve slope smell smoke snake
  soap sock sofa soil song sound spider spirit sponge square stage stair stamp statue steam stone
  storm stove strategy straw student sugar suit surface sweater sword symbol system tail talent
  target task taste temple tent territory thunder tide tiger toast toe tool tooth tower toy track
  trade traffic train treasure triangle trick truck trumpet tunnel turtle umbrella uncle universe
  valley van vase vehicle velvet victim violin volcano voyage wagon waiter wave wheel whistle wing
  wire witness wonder wool yard yacht zebra zone
`);

const VERBS = words(`
  walk talk play work call ask look help need want open close start finish watch listen learn teach
  move live believe happen carry follow stop create spend grow offer remember consider appear serve
  expect build stay fall reach kill remain suggest raise pass report decide pull return explain hope
  develop drive break receive agree support hit produce cover catch draw choose cause point plan
  measure compute route dispatch combine gather split merge sort count store load save print check
  test train sample encode decode compress parse render paint cook clean wash climb jump dance sing
  travel visit explore discover invent design improve repair borrow lend share collect deliver order
  answer question notice mention describe compare prepare arrive wonder smile laugh cry shout whisper
  borrow trust fix mix pack push pick fill kick kiss miss pray rest rush touch wish count paint
  accept accuse achieve act add admire admit adopt advise afford allow announce annoy apply approve
  argue arrange attach attack attend avoid bake balance bang bathe beg behave belong bless blink
  boil bolt bounce bow brake breathe brush bump burn calculate calm camp care celebrate challenge
  charge chase cheer chew chop clap coach collect color comb command complain complete concentrate
  confess connect contain continue copy correct cough crack crawl cross crush cure cycle damage dare
  decorate delay delight depend deserve destroy detect disagree disappear divide doubt drag drain
  dream dress drop dry earn educate embarrass employ empty encourage end enjoy enter entertain escape
  examine excite excuse exercise exist expand explode extend face fade fail fasten fax fear fence
  flash float flood flow flower fold force form frame frighten gaze glow glue grab grate grease greet
  grin grip groan guarantee guard guess guide hammer hand handle hang harm hate haunt head heal heap
  heat hook hop hover hug hum hunt hurry identify ignore imagine impress include increase influence
  inform inject injure instruct intend interest interrupt introduce invite irritate itch jail jog
  join joke judge juggle kneel knit knock label land last launch level license lick lighten like
  limp link list lock long love manage march mark marry match mate matter melt milk mine moan
  moor mourn muddle mug multiply murder nail name nest nod note number obey object observe obtain
  occur offend own pack paddle park part pause pedal peel peep perform permit phone place plant
  please plug poke polish pop possess post pour practise preach precede prefer present preserve
  press pretend prevent prick print proceed promise protect provide punch puncture punish queue
  race radiate rain reign reject rejoice relax release rely remind remove replace reply request
  rescue retire rhyme rinse risk rob rock roll rot rub ruin rule sack sail satisfy scare scatter
  scold scorch scrape scratch scream screw scribble scrub seal search separate settle shade shelter
  shiver shock shop sigh sign signal sin sip ski skip slap slip slow smash smell smoke snatch sneeze
  sniff snore snow soak soothe sound spare spark sparkle spell spill spoil spot spray sprout squash
  squeak squeal squeeze stain stamp stare steer step stir stitch stretch strip stroke stuff suffer
  suit supply suppose surprise surround suspect suspend switch tame tap taste tease telephone tempt
  terrify thank thaw tick tickle tie time tip tire tour tow trace trade transport trap treat tremble
  trick trip trot trouble trust try tug tumble turn twist type undress unfasten unite unlock unpack
  untidy use vanish vex wail wait wander warm warn waste water wave weigh welcome whine whip whirl
  whistle wink wipe wobble worry wrap wreck wrestle wriggle yawn yell zip zoom
`);

const ADJECTIVES = words(`
  good new first last long great little own other old right big high different small large next early
  young important few public bad same able free sure real best better full special easy clear recent
  certain personal open red difficult available likely short single medical current wrong private past
  foreign fine common poor natural significant similar hot dead central happy serious ready simple left
  physical general environmental financial blue democratic dark various entire close legal religious cold
  final main green nice huge popular traditional cultural quick quiet bright gentle brave calm clever
  curious eager fierce proud silly tiny vast warm wild wise young fresh sharp smooth soft strong sweet
  heavy light rich thin thick narrow wide deep shallow loud empty busy lazy honest polite rare ancient
  modern golden silver wooden purple yellow orange careful cheerful distant faithful graceful helpful
  adorable agreeable alert amused angry anxious arrogant ashamed attractive awful beautiful bewildered
  blushing bored brainy breakable bumpy charming clumsy colorful combative comfortable confused
  cooperative courageous crazy creepy cruel cute dangerous defiant delightful determined dizzy doubtful
  drab dull elegant embarrassed enchanting energetic enthusiastic envious evil excited expensive
  fair fancy fantastic foolish fragile frail friendly frightened funny gifted glamorous gleaming
  glorious gorgeous grumpy handsome healthy helpless hilarious homeless hungry innocent jealous jolly
  kind lively lonely lovely lucky magnificent misty motionless muddy mysterious nasty naughty nervous
  obedient odd outrageous panicky perfect plain pleasant powerful precious prickly puzzled rainy
  relieved repulsive scary selfish shiny shy sleepy smiling sparkling splendid spotless stormy
  strange stupid successful super talented tame tender tense terrible thankful thoughtful tired tough
  troubled ugly uninterested unusual upset useful victorious vivacious wandering weary wicked worried
`);

const ADVERBS = words(`
  quickly slowly quietly loudly carefully happily sadly easily rarely often always never sometimes
  usually already almost soon today tomorrow yesterday here there everywhere together early late
  finally suddenly gently barely clearly simply nearly really truly well again still just perhaps
`);

const NAMES = words(`
  Alice Bob Carol David Emma Frank Grace Henry Irene Jack Karen Liam Maria Noah Olivia Peter Quinn Rosa
  Samuel Tara Umar Vera Walter Xavier Yara Zoe Anna Ben Clara Daniel Elena Felix Greta Hugo Isla Jonas
  Kevin Lena Marco Nina Oscar Paula Rachel Simon Tom Ursula Victor Wendy Yusuf Zara Arthur Beatrice
`);

const PLACES = words(`
  London Paris Berlin Madrid Rome Vienna Prague Warsaw Dublin Oslo Lisbon Athens Cairo Tokyo Delhi
  Beijing Sydney Toronto Chicago Boston Denver Seattle Lagos Nairobi Lima Quito Santiago Montreal Zurich
  Geneva Munich Hamburg Milan Naples Venice Florence Krakow Budapest Helsinki Stockholm Copenhagen Yorkshire
  Amsterdam Brussels Glasgow Edinburgh Cardiff Belfast Manchester Liverpool Bristol Oxford Cambridge
  Barcelona Seville Valencia Porto Marseille Lyon Toulouse Bordeaux Nice Antwerp Rotterdam Utrecht
  Istanbul Ankara Tehran Baghdad Dubai Mumbai Chennai Kolkata Karachi Dhaka Bangkok Hanoi Manila
  Jakarta Singapore Seoul Osaka Kyoto Shanghai Melbourne Auckland Wellington Vancouver Calgary Ottawa
  Houston Dallas Austin Phoenix Miami Atlanta Detroit Portland Memphis Nashville Havana Bogota Caracas
`);
const ACRONYMS = words("NASA UN EU USA UK CPU GPU RAM API HTTP JSON XML PDF ID TV DNA BBC FAQ CEO URL USB SQL ONNX GGUF BPE FFN MoE");

const MONTHS = words("January February March April May June July August September October November December");
const DAYS = words("Monday Tuesday Wednesday Thursday Friday Saturday Sunday");
const PREPS = words("in on at near behind under over beside across through into from with without after before during for about");
const DETS = words("the a this that every each some another one no");
const CONJ = words("and but so because although while when if until since");
const PRONOUNS = words("I you he she it we they");
const TIMES = words("morning afternoon evening night week month year day");

const IRREGULAR_PAST: Readonly<Record<string, string>> = {
  build: "built", fall: "fell", drive: "drove", break: "broke", catch: "caught", draw: "drew",
  choose: "chose", grow: "grew", spend: "spent", teach: "taught", hit: "hit", lend: "lent",
};

const IRREGULAR_PLURAL: Readonly<Record<string, string>> = {
  tomato: "tomatoes", volcano: "volcanoes", hero: "heroes", potato: "potatoes", wolf: "wolves", knife: "knives", leaf: "leaves", shelf: "shelves",
  foot: "feet", tooth: "teeth", mouse: "mice", sheep: "sheep", fish: "fish", scissors: "scissors",
};

function isVowel(c: string): boolean {
  return "aeiou".includes(c);
}

/** Noun plural: box→boxes, city→cities, apple→apples. */
export function plural(n: string): string {
  if (/(s|x|z|ch|sh)$/.test(n)) return `${n}es`;
  if (n.endsWith("y") && !isVowel(n.at(-2) ?? "a")) return `${n.slice(0, -1)}ies`;
  if (n === "man" || n === "woman") return `${n.slice(0, -2)}en`;
  if (n === "child") return "children";
  const irr = IRREGULAR_PLURAL[n];
  if (irr) return irr;
  if (n === "person") return "people";
  return `${n}s`;
}

function thirdPerson(v: string): string {
  return plural(v);
}

function past(v: string): string {
  const irr = IRREGULAR_PAST[v];
  if (irr) return irr;
  if (v.endsWith("e")) return `${v}d`;
  if (v.endsWith("y") && !isVowel(v.at(-2) ?? "a")) return `${v.slice(0, -1)}ied`;
  if (/^[^aeiou]*[aeiou][bdgmnpt]$/.test(v)) return `${v}${v.at(-1)}ed`;
  return `${v}ed`;
}

function gerund(v: string): string {
  if (v.endsWith("ie")) return `${v.slice(0, -2)}ying`;
  if (v.endsWith("e") && !v.endsWith("ee")) return `${v.slice(0, -1)}ing`;
  if (/^[^aeiou]*[aeiou][bdgmnpt]$/.test(v)) return `${v}${v.at(-1)}ing`;
  return `${v}ing`;
}

function comparative(a: string, suffix: "er" | "est"): string {
  if (a.length > 6) return `${suffix === "er" ? "more" : "most"} ${a}`;
  if (a.endsWith("e")) return `${a}${suffix.slice(1)}`;
  if (a.endsWith("y") && !isVowel(a.at(-2) ?? "a")) return `${a.slice(0, -1)}i${suffix}`;
  if (/^[^aeiou]*[aeiou][bdgmnpt]$/.test(a)) return `${a}${a.at(-1)}${suffix}`;
  return `${a}${suffix}`;
}

function adverbOf(a: string): string {
  if (a.endsWith("le")) return `${a.slice(0, -1)}y`;
  if (a.endsWith("y")) return `${a.slice(0, -1)}ily`;
  if (a.endsWith("ic")) return `${a}ally`;
  return `${a}ly`;
}

/** Agent noun: bake→baker, run→runner, play→player. */
function agent(v: string): string {
  if (v.endsWith("e")) return `${v}r`;
  if (v.endsWith("y") && !isVowel(v.at(-2) ?? "a")) return `${v.slice(0, -1)}ier`;
  if (/^[^aeiou]*[aeiou][bdgmnpt]$/.test(v)) return `${v}${v.at(-1)}er`;
  return `${v}er`;
}

/** Abstract noun: kind→kindness, happy→happiness. */
function nounOf(a: string): string {
  if (a.endsWith("y") && !isVowel(a.at(-2) ?? "a")) return `${a.slice(0, -1)}iness`;
  return `${a}ness`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One sentence from a template; every branch is deterministic given the PRNG state. */
function sentence(r: Prng): string {
  const noun = () => (r.int(3) === 0 ? plural(r.pick(NOUNS)) : r.pick(NOUNS));
  const np = () => `${r.pick(DETS)} ${r.int(2) ? `${r.pick(ADJECTIVES)} ` : ""}${r.pick(NOUNS)}`;
  const verb = () => r.pick(VERBS);
  const num = () => String(r.int([10, 100, 1000, 100000][r.int(4)]!));
  switch (r.int(16)) {
    case 0:
      return `${capitalize(np())} ${past(verb())} ${np()} ${r.pick(PREPS)} ${r.pick(PLACES)}.`;
    case 1:
      return `${r.pick(NAMES)} ${thirdPerson(verb())} ${num()} ${plural(r.pick(NOUNS))} every ${r.pick(TIMES)}.`;
    case 2:
      return `Did ${r.pick(NAMES)} ${verb()} the ${noun()} ${r.pick(ADVERBS)}?`;
    case 3:
      return `"${capitalize(r.pick(PRONOUNS))} ${r.int(2) ? "can't" : "won't"} ${verb()} ${np()}," said ${r.pick(NAMES)}.`;
    case 4:
      return `On ${r.pick(DAYS)}, ${r.int(28) + 1} ${r.pick(MONTHS)} ${1900 + r.int(130)}, the ${r.pick(NOUNS)} was ${gerund(verb())} ${r.pick(ADVERBS)}.`;
    case 5:
      return `The ${r.pick(NOUNS)} costs $${r.int(500)}.${String(r.int(100)).padStart(2, "0")}, ${r.int(100)}% ${comparative(r.pick(ADJECTIVES), "er")} than ${np()}.`;
    case 6:
      return `${capitalize(r.pick(ADVERBS))}, ${r.pick(PRONOUNS)} ${past(verb())} ${np()} ${r.pick(CONJ)} ${np()} ${past(verb())} ${r.pick(ADVERBS)}!`;
    case 7:
      return `At ${r.int(24)}:${String(r.int(60)).padStart(2, "0")} ${r.pick(NAMES)} was ${gerund(verb())} (${r.int(2) ? "again" : "as usual"}) with ${r.pick(NAMES)}.`;
    case 8:
      return `Items: ${noun()}, ${noun()}, ${noun()}; ${noun()} and ${noun()}.`;
    case 9:
      return `It is the ${comparative(r.pick(ADJECTIVES), "est")} ${r.pick(NOUNS)} in ${r.pick(PLACES)} - ${r.pick(PRONOUNS)} ${past(verb())} it ${adverbOf(r.pick(ADJECTIVES))}.`;
    case 10:
      return `Code ${r.pick(ACRONYMS)}-${num()}: ${r.pick(NAMES)}'s ${r.pick(NOUNS)} is ${r.pick(ADJECTIVES)} & ${r.pick(ADJECTIVES)}.`;
    case 11:
      return `${r.int(10)}.${r.int(1000)} + ${r.int(100)} = ${r.int(1000)}; ${r.int(50)} * ${r.int(50)} / ${r.int(9) + 1} [${r.pick(NOUNS)}] #${r.int(100)} @${r.pick(NAMES).toLowerCase()}`;
    case 12:
      return `${capitalize(plural(r.pick(NOUNS)))} ${r.pick(["are", "were", "seem", "became"])} ${r.pick(ADJECTIVES)}, ${r.pick(ADJECTIVES)} and ${r.pick(["very", "quite", "rather", "not"])} ${r.pick(ADJECTIVES)}.`;
    case 13:
      return `${r.pick(NAMES)} and ${r.pick(NAMES)} ${r.int(2) ? "don't" : "didn't"} ${verb()} ${np()} ${r.pick(PREPS)} ${np()} ${r.pick(CONJ)} it's ${r.pick(ADJECTIVES)}.`;
    case 14:
      return `Why ${r.int(2) ? "does" : "did"} ${np()} ${verb()} ${r.pick(PREPS)} ${np()}? Because ${r.pick(PRONOUNS)} ${past(verb())} ${np()}.`;
    default:
      return `${capitalize(gerund(verb()))} ${np()} is ${r.pick(ADJECTIVES)}; ${gerund(verb())} ${plural(r.pick(NOUNS))} is ${comparative(r.pick(ADJECTIVES), "er")}.`;
  }
}

/** Sentences in the default corpus. */
export const CORPUS_SENTENCES = 30_000;

/**
 * The project's English corpus: `sentences` lines of template text (seed fixed), joined by "\n".
 * Same output on every machine and every run.
 */
export function buildCorpus(sentences = CORPUS_SENTENCES, seed = 0x6d6f65): string {
  const r = new Prng(seed);
  const lines: string[] = [];
  // Every vocabulary word appears at least once in each inflection, so rare forms are learnt too.
  for (const n of NOUNS) lines.push(`The ${n} and the ${plural(n)}. ${capitalize(plural(n))} are not ${n}less.`);
  for (const v of VERBS) {
    lines.push(`They ${v}, she ${thirdPerson(v)}, we ${past(v)}, all ${gerund(v)}. ${capitalize(gerund(v))} is what a ${agent(v)} does.`);
    lines.push(`${capitalize(v)} it again: we re${v}, she re${thirdPerson(v)}, they re${past(v)}.`);
  }
  for (const a of ADJECTIVES) {
    lines.push(`It is ${a}, ${comparative(a, "er")}, the ${comparative(a, "est")}, done ${adverbOf(a)}.`);
    lines.push(`${capitalize(a)} or un${a}? The ${nounOf(a)} shows.`);
  }
  for (let i = 0; i < sentences; i++) lines.push(sentence(r));
  return lines.join("\n");
}
