import { expect, test } from "vitest";
import { convexFusion } from "../src/store/fusion.js";

test("convex fusion normalises each list to 0..1 and blends by weight", () => {
  const fused = convexFusion([
    { ids: ["a", "b", "c"], scores: [0.9, 0.5, 0.1], weight: 0.2, membershipIsEvidence: false },
    { ids: ["c", "d"], scores: [12, 2], weight: 0.8, membershipIsEvidence: true },
  ]);
  expect(fused.map((f) => f.id)).toEqual(["c", "a", "b", "d"]);
  const score = Object.fromEntries(fused.map((f) => [f.id, f.score]));
  expect(score.c).toBeCloseTo(0.8); // best by keyword, worst by vector
  expect(score.a).toBeCloseTo(0.2);
  expect(score.b).toBeCloseTo(0.1);
  expect(score.d).toBeCloseTo(0); // the weakest keyword match: still a match
});

test("a list with one hit, or equal scores, counts each hit fully; an empty list adds nothing", () => {
  expect(convexFusion([{ ids: ["x"], scores: [3], weight: 0.5, membershipIsEvidence: false }, { ids: [], scores: [], weight: 0.5, membershipIsEvidence: true }])).toEqual([{ id: "x", score: 0.5 }]);
  expect(convexFusion([{ ids: ["p", "q"], scores: [1, 1], weight: 1, membershipIsEvidence: false }]).map((f) => f.score)).toEqual([1, 1]);
});

test("a hit with no evidence from either list is left out instead of padding the result", () => {
  const fused = convexFusion([
    { ids: ["near", "middle", "farthest"], scores: [0.3, 0.2, 0.1], weight: 0.2, membershipIsEvidence: false },
    { ids: [], scores: [], weight: 0.8, membershipIsEvidence: true },
  ]);
  expect(fused.map((f) => f.id)).toEqual(["near", "middle"]);
});
