// Names behind ids (a patient, a practitioner), fetched once per page load and shared by every screen.
import { all, api } from "./api.js";

const patients = new Map();
const practitioners = new Map();

export function patientLabel(patient) {
  return patient ? `${patient.last_name}, ${patient.first_name}` : "—";
}

export function practitionerLabel(practitioner) {
  return practitioner ? `Dr ${practitioner.first_name} ${practitioner.last_name}` : "—";
}

export function patient(id) {
  if (!patients.has(id)) patients.set(id, api("GET", `/patients/${id}`).catch(() => null));
  return patients.get(id);
}

export async function patientName(id) {
  return id ? patientLabel(await patient(id)) : "—";
}

let everyPractitioner = null;
export function allPractitioners() {
  everyPractitioner ??= all("/practitioners").then((items) => {
    for (const item of items) practitioners.set(item.id, Promise.resolve(item));
    return items;
  });
  return everyPractitioner;
}

export function practitioner(id) {
  if (!practitioners.has(id)) practitioners.set(id, api("GET", `/practitioners/${id}`).catch(() => null));
  return practitioners.get(id);
}

export async function practitionerName(id) {
  return id ? practitionerLabel(await practitioner(id)) : "—";
}

// A patient or practitioner has changed: read it again next time.
export function forget(id) {
  patients.delete(id);
  practitioners.delete(id);
}
