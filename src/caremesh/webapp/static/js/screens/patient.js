// Screens of this group (filled in by issue 17's web app work).
export const screens = [];
