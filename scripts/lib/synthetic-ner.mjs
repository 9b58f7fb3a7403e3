// A seeded generator of news-like NER sentences in the GMB corpus's style
// (IOB tags with the classes geo, gpe, org, per, tim, art, eve, nat), for
// tests and the demo on a machine without the book's files. The same seed
// gives the same sentences on every machine. Entity names are drawn from
// lists large enough that a held-out part holds names never seen in
// training, so that features beyond the word itself (shape, neighbours) pay
// off as they do on the real corpus.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/**
 * mulberry32 from `seed`: core's seeded PRNG (packages/core/src/random.ts,
 * which mixes its seed with 0x9e3779b9 first; undone here so that a seed
 * gives the same sentences as it always has). Needs core built.
 */
export function rng(seed) {
  const { seededRandom } = require("../../packages/core/dist/random.js");
  return seededRandom((seed ^ 0x9e3779b9) >>> 0);
}

const W = (s) => s.split(" ");
const CITIES = W(
  "Berlin Madrid Paris Lyon Tokyo Lahore Kabul Cairo Nairobi Brussels Jerusalem Homs Riyadh Detroit Ontario Helmand Kandahar Darfur Swat Baghdad Tehran Moscow Beijing Delhi Karachi Gaza Mosul Basra Kirkuk Herat Mogadishu Khartoum Harare Lagos Abuja Caracas Havana Bogota Lima Quito Seoul Manila Jakarta Hanoi Dhaka Colombo Kiev Minsk Warsaw Prague Vienna Rome Athens Ankara Beirut Damascus Amman Sanaa Tripoli Tunis Algiers Rabat Dakar Accra Kampala Kigali Geneva Oslo Stockholm Helsinki Dublin Lisbon Ottawa Sydney",
);
const COUNTRIES = W(
  "Kenya Ghana Uganda Iraq Iran Turkey Greece Somalia Sudan Ethiopia Brazil Mexico India China Japan Russia Egypt Syria Israel Pakistan Afghanistan Bangladesh Nigeria Venezuela Cuba Colombia Peru Ecuador Indonesia Vietnam Ukraine Belarus Poland Austria Italy Lebanon Jordan Yemen Libya Tunisia Algeria Morocco Senegal Rwanda Zimbabwe Norway Sweden Finland Ireland Portugal Canada Australia Georgia Armenia Nepal Burma Thailand Cambodia Laos Chile Bolivia Haiti",
);
const MULTI_GEO = [
  ["United", "States"],
  ["South", "Africa"],
  ["New", "York"],
  ["North", "Korea"],
  ["South", "Korea"],
  ["Sri", "Lanka"],
  ["Saudi", "Arabia"],
  ["Hong", "Kong"],
  ["West", "Bank"],
  ["Middle", "East"],
  ["New", "Delhi"],
  ["Latin", "America"],
];
const GPE = W(
  "French Chinese Japanese Russian Iranian American Pakistani Egyptian Israeli Canadian German Syrian Iraqi Afghan Indian Turkish British Italian Spanish Kenyan Nigerian Somali Sudanese Palestinian Lebanese Korean Mexican Brazilian Cuban Venezuelan Ukrainian Polish Greek Saudi Yemeni Libyan Ethiopian",
);
const ORGS = [
  ["United", "Nations"],
  ["World", "Bank"],
  ["European", "Union"],
  ["Red", "Cross"],
  ["International", "Monetary", "Fund"],
  ["African", "Union"],
  ["NATO"],
  ["Taleban"],
  ["Hamas"],
  ["Hezbollah"],
  ["OPEC"],
  ["Toyota"],
  ["Ford"],
  ["Google"],
  ["Reuters"],
  ["Interior", "Ministry"],
  ["Supreme", "Court"],
  ["Security", "Council"],
  ["World", "Health", "Organization"],
  ["Amnesty", "International"],
  ["Human", "Rights", "Watch"],
  ["Al-Qaida"],
  ["General", "Motors"],
  ["Microsoft"],
  ["Airbus"],
  ["Boeing"],
  ["Gazprom"],
  ["Shell"],
  ["Congress"],
  ["Parliament"],
];
const FIRST = W(
  "Maria Ahmed David John Ali Hassan Mohammed Omar Sarah Anna Peter Paul James Robert Michael William Thomas Daniel Joseph Hamid Nuri Vladimir Dmitri Hu Wen Kim Luis Carlos Jose Juan Pedro Ahmad Yusuf Ibrahim Mahmoud Ehud Benjamin Gordon Tony Nicolas Angela Silvio Jacques Hosni Mwai Raila Robert Thabo Jacob Olusegun Umaru Hugo Fidel Raul Evo Alvaro Shinzo Taro Junichiro Ban Condoleezza Hillary Barack George Dick Donald Kofi Javier Manmohan Pervez Asif Yousuf Nawaz Hamid Abdullah Recep Abdul",
);
const LAST = W(
  "Lopez Khan Brown Smith Miller Chen Jones Taylor Wilson Clark Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Nelson Carter Mitchell Roberts Turner Phillips Campbell Parker Evans Edwards Collins Stewart Morris Rogers Reed Cook Morgan Bell Murphy Bailey Rivera Cooper Richardson Cox Howard Ward Torres Peterson Gray Ramirez James Watson Brooks Kelly Sanders Price Bennett Wood Barnes Ross Henderson Coleman Jenkins Perry Powell Long Patterson Hughes Flores Washington Butler Simmons Foster Gonzales Bryant Alexander Russell Griffin Diaz Hayes Karzai Musharraf Zardari Maliki Abbas Olmert Netanyahu Putin Medvedev Chavez Castro Morales Uribe Mugabe Kibaki Odinga Mbeki Zuma Obasanjo Yaradua Erdogan Singh Gilani Sharif",
);
const TITLES = W("President Minister Senator General Mr. Ms. Mrs. Dr. King Governor Secretary Chancellor Ambassador");
const DAYS = W("Monday Tuesday Wednesday Thursday Friday Saturday Sunday");
const MONTHS = W("January February March April June July August September October November December");
const RELTIME = [
  ["last", "week"],
  ["next", "month"],
  ["this", "year"],
  ["last", "year"],
  ["this", "summer"],
  ["next", "week"],
  ["last", "month"],
];
const ART = [["Nobel", "Prize"], ["Olympics"], ["Koran"], ["Bible"]];
const EVE = [["World", "Cup"], ["Christmas"], ["Ramadan"], ["World", "War", "II"]];
const NAT = [["Katrina"], ["H5N1"], ["Ebola"], ["Tsunami"]];
const GROUPS = W(
  "officials police soldiers troops rebels workers students farmers voters leaders militants protesters miners doctors lawmakers diplomats activists investors judges refugees",
);
const VERBS_PAST = W("said reported warned announced confirmed denied rejected approved criticized welcomed condemned urged");
const VERBS_MOVE = W("visited arrived marched traveled returned fled");
const NOUNS = W("talks aid prices taxes exports oil fuel food elections violence reforms sanctions loans troops weapons votes");
const ADJ = W("new heavy strong major senior former local foreign economic military political");

const SYLLABLES = W("ka ri mo ta le vu no sa ze bi ra lo mi du ne ho fa gu ti we yo ar en ol um is ba ce di fo ga hi ju ko lu ma pe qu ro si to va wi xa zo");

/** Builds one sentence's tokens: [{word, pos, tag}]. */
function sentence(r) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const chance = (p) => r() < p;
  // A made-up capitalised name: most names in news text are rare, so most
  // names in a held-out part were never seen in training.
  const coined = () => {
    let s = "";
    for (let i = 2 + Math.floor(r() * 3); i > 0; i--) s += pick(SYLLABLES);
    return s.charAt(0).toUpperCase() + s.slice(1);
  };
  const name = (xs) => (chance(0.85) ? coined() : pick(xs));
  const out = [];
  const w = (word, pos, tag = "O") => out.push({ word, pos, tag });
  const ent = (words, pos, cls) => words.forEach((x, i) => w(x, pos, `${i === 0 ? "B" : "I"}-${cls}`));
  const geo = () => (chance(0.15) ? ent(pick(MULTI_GEO), "NNP", "geo") : ent([chance(0.5) ? name(CITIES) : name(COUNTRIES)], "NNP", "geo"));
  const org = () => {
    if (chance(0.5)) w("the", "DT");
    ent(chance(0.3) ? [coined(), pick(["Party", "Group", "Corporation", "Front", "Bank"])] : pick(ORGS), "NNP", "org");
  };
  const per = () => {
    const words = [];
    if (chance(0.6)) words.push(pick(TITLES));
    if (chance(0.5) || words.length === 0) words.push(name(FIRST));
    words.push(name(LAST));
    ent(words, "NNP", "per");
  };
  const tim = () => {
    const k = r();
    if (k < 0.4) {
      w("on", "IN");
      ent([pick(DAYS)], "NNP", "tim");
    } else if (k < 0.7) {
      w("in", "IN");
      ent([pick(MONTHS)], "NNP", "tim");
    } else if (k < 0.85) {
      w("in", "IN");
      ent([String(1990 + Math.floor(r() * 20))], "CD", "tim");
    } else {
      const [a, b] = pick(RELTIME);
      w(a, "JJ", "B-tim");
      w(b, "NN", "I-tim");
    }
  };
  const group = () => {
    if (chance(0.4)) ent([pick(GPE)], "JJ", "gpe");
    else if (chance(0.3)) w(pick(ADJ), "JJ");
    w(pick(GROUPS), "NNS");
  };
  const capital = (first) => first.charAt(0).toUpperCase() + first.slice(1);
  // A noun phrase that can stand as subject or object: any entity class, or
  // plain words. The words that follow do not tell the class apart, as in
  // real text; the words before it and its shape do.
  const np = () => {
    const k = r();
    if (k < 0.25) per();
    else if (k < 0.45) org();
    else if (k < 0.6) geo();
    else if (k < 0.8) group();
    else {
      w("the", "DT");
      if (chance(0.4)) w(pick(ADJ), "JJ");
      w(pick(NOUNS), "NN");
    }
  };
  const place = () => {
    w(pick(["in", "near", "from", "to"]), "IN");
    geo();
  };
  np();
  switch (Math.floor(r() * 8)) {
    case 0:
      w(pick(VERBS_MOVE), "VBD");
      place();
      break;
    case 1:
      w(pick(VERBS_PAST), "VBD");
      w("that", "IN");
      np();
      w(pick(["would", "will", "must"]), "MD");
      w(pick(["send", "cut", "raise", "review"]), "VB");
      w(pick(NOUNS), "NNS");
      break;
    case 2:
      w(pick(VERBS_PAST), "VBD");
      np();
      w("over", "IN");
      w(pick(NOUNS), "NNS");
      break;
    case 3:
      w("met", "VBD");
      np();
      break;
    case 4:
      w("won", "VBD");
      w("the", "DT");
      ent(pick(ART), "NNP", "art");
      break;
    case 5:
      w(pick(["rose", "fell", "grew"]), "VBD");
      w("after", "IN");
      if (chance(0.5)) ent(pick(NAT), "NNP", "nat");
      else ent(pick(EVE), "NNP", "eve");
      break;
    case 6:
      w("told", "VBD");
      w("reporters", "NNS");
      w("about", "IN");
      np();
      break;
    default:
      w(pick(VERBS_PAST), "VBD");
      w(pick(NOUNS), "NNS");
      w("for", "IN");
      np();
      break;
  }
  if (chance(0.4)) place();
  if (chance(0.5)) tim();
  w(".", ".");
  // Sentence-initial capitalisation, as in running text.
  out[0].word = capital(out[0].word);
  return out;
}

/** `count` sentences from `seed`. */
export function syntheticSentences(seed, count) {
  const r = rng(seed);
  return Array.from({ length: count }, () => sentence(r));
}

/** Sentences from `seed` until `tokens` tokens are reached. */
export function syntheticTokens(seed, tokens) {
  const r = rng(seed);
  const out = [];
  let n = 0;
  while (n < tokens) {
    const s = sentence(r);
    out.push(s);
    n += s.length;
  }
  return out;
}
