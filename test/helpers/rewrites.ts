/**
 * Texts of the snapshot tests: each chunk carries a word no other chunk
 * contains (nor shares much spelling with, so even the hashing embedder
 * ranks the chunk first for it): a search for the word must find exactly
 * that chunk.
 */
const WORDS = (
  "aardvark bison caracal dingo echidna fossa gharial hoatzin ibex jerboa kinkajou lemming margay numbat ocelot " +
  "pangolin quoll rhea serval tapir uakari vicuna wallaby xerus yapok zorilla binturong coati dugong eland"
).split(" ");

export const word = (i: number): string => WORDS[i % WORDS.length]!;

export const textOf = (i: number, version: number): string => `${word(i)} notes, revision ${version}: the keeper rewrote this entry about enclosure ${i}.`;

/** xorshift32, so a failing interleaving can be replayed from its seed. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}
