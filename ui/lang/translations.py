#!/usr/bin/env python3
"""Writes lang/{fi,sv}/LC_MESSAGES/ui.po from the table below. Edit the table, run this, commit
both. The ui tests check that every @tr() string in screens/*.slint has both translations."""
import pathlib

T = {
    "Back": ("Takaisin", "Tillbaka"),
    "Borrow and renew": ("Lainaa ja uusi", "Låna och förnya"),
    "Borrowed, due {}. The library system is offline: the loan is saved and sent later.":
        ("Lainattu, eräpäivä {}. Kirjastojärjestelmään ei ole yhteyttä: laina on tallessa ja kirjataan myöhemmin.",
         "Utlånad, förfallodag {}. Biblioteksystemet kan inte nås: lånet är sparat och skickas senare."),
    "Borrowed. Due {}": ("Lainattu. Eräpäivä {}", "Utlånad. Förfallodag {}"),
    "Borrowing is not possible while the library system is offline.":
        ("Lainaaminen ei ole mahdollista, kun kirjastojärjestelmään ei ole yhteyttä.",
         "Det går inte att låna medan biblioteksystemet inte kan nås."),
    "Borrowing": ("Lainaus", "Lån"),
    "Cancel": ("Peruuta", "Avbryt"),
    "Checking…": ("Tarkistetaan…", "Kontrollerar…"),
    "Due {}": ("Eräpäivä {}", "Förfallodag {}"),
    "Finish": ("Lopeta", "Avsluta"),
    "My loans": ("Omat lainat", "Mina lån"),
    "No items yet.": ("Ei vielä mitään.", "Inget ännu."),
    "No more loans while the library system is offline.":
        ("Enempää ei voi lainata, ennen kuin yhteys kirjastojärjestelmään palaa.",
         "Inga fler lån innan förbindelsen till biblioteksystemet fungerar igen."),
    "No receipt": ("Ei kuittia", "Inget kvitto"),
    "The library does not know this item. Please leave it for the staff.": ("Kirjasto ei tunne tätä lainaa. Jätä se henkilökunnalle.", "Biblioteket känner inte till det här. Lämna det åt personalen."),
    "Not renewed: {}": ("Ei uusittu: {}", "Inte förnyad: {}"),
    "Not returned: {}": ("Ei palautettu: {}", "Inte återlämnad: {}"),
    "OK": ("OK", "OK"),
    "Offline mode": ("Ei yhteyttä kirjastoon", "Ingen förbindelse"),
    "On loan to someone else. Please leave it for the staff.": ("Lainassa toisella. Jätä se henkilökunnalle.", "Utlånad till någon annan. Lämna den åt personalen."),
    "Overdue {}": ("Myöhässä, eräpäivä {}", "Försenad, förfallodag {}"),
    "Parts missing ({}): place every part on the pad.": ("Osia puuttuu ({}): aseta kaikki osat alustalle.", "Delar saknas ({}): lägg alla delar på plattan."),
    "Place the items on the pad one stack at a time, or scan their barcodes.":
        ("Aseta kirjat ja muut lainat alustalle pino kerrallaan tai lue niiden viivakoodit.",
         "Lägg böckerna och det andra på plattan en trave i taget, eller läs in streckkoderna."),
    "Place the items on the pad, or scan their barcodes.":
        ("Aseta kirjat ja muut lainattavat alustalle tai lue niiden viivakoodit.",
         "Lägg böckerna och det andra du lånar på plattan, eller läs in streckkoderna."),
    "Print a receipt": ("Tulosta kuitti", "Skriv ut kvitto"),
    "Remember to take your card.": ("Muista ottaa korttisi.", "Kom ihåg att ta ditt kort."),
    "Renew all": ("Uusi kaikki", "Förnya alla"),
    "Renewed. Due {}": ("Uusittu. Eräpäivä {}", "Förnyad. Förfallodag {}"),
    "Reserved: ready to pick up at {}": ("Varaus: noudettavissa, {}", "Reservation: kan hämtas, {}"),
    "Reserved: ready to pick up": ("Varaus: noudettavissa", "Reservation: kan hämtas"),
    "Reserved: in the queue": ("Varaus: jonossa", "Reservation: i kö"),
    "Renew": ("Uusi", "Förnya"),
    "Renewed": ("Uusittu", "Förnyad"),
    "Not renewed": ("Ei uusittu", "Inte förnyad"),
    "Reserved for another patron.": ("Varattu toiselle asiakkaalle.", "Reserverad för en annan låntagare."),
    "Return items": ("Palauta", "Återlämna"),
    "Returned. It goes to another library: please leave it on the returns shelf.":
        ("Palautettu. Se menee toiseen kirjastoon: jätä se palautushyllyyn.",
         "Återlämnad. Den ska till ett annat bibliotek: lämna den på återlämningshyllan."),
    "Returned. Someone has reserved it: please leave it on the returns shelf.":
        ("Palautettu. Joku on varannut sen: jätä se palautushyllyyn.",
         "Återlämnad. Någon har reserverat den: lämna den på återlämningshyllan."),
    "Returned. Thank you!": ("Palautettu. Kiitos!", "Återlämnad. Tack!"),
    "Returned. The library system is offline: the return is saved and sent later.":
        ("Palautettu. Kirjastojärjestelmään ei ole yhteyttä: palautus on tallessa ja kirjataan myöhemmin.",
         "Återlämnad. Biblioteksystemet kan inte nås: återlämningen är sparad och skickas senare."),
    "Returning": ("Palautus", "Återlämning"),
    "Something went wrong. Please try again.": ("Jokin meni vikaan. Yritä uudelleen.", "Något gick fel. Försök igen."),
    "Thank you!": ("Kiitos!", "Tack!"),
    "The card could not be read. Please show it again.": ("Korttia ei voitu lukea. Näytä se uudelleen.", "Kortet kunde inte läsas. Visa det igen."),
    "The library system did not answer. Please try again.": ("Kirjastojärjestelmä ei vastannut. Yritä uudelleen.", "Biblioteksystemet svarade inte. Försök igen."),
    "The library system is offline and your card is not on the offline list. Returns still work.":
        ("Kirjastojärjestelmään ei ole yhteyttä, eikä korttisi ole varalistalla. Palauttaa voi silti.",
         "Biblioteksystemet kan inte nås och ditt kort finns inte på reservlistan. Återlämning fungerar ändå."),
    "The printer is not working right now. Your loans are saved; you can see them under My loans.":
        ("Tulostin ei nyt toimi. Lainasi ovat tallessa; näet ne kohdasta Omat lainat.",
         "Skrivaren fungerar inte just nu. Dina lån är sparade; du ser dem under Mina lån."),
    "The receipt could not be printed. Your loans are saved.": ("Kuittia ei voitu tulostaa. Lainasi ovat tallessa.", "Kvittot kunde inte skrivas ut. Dina lån är sparade."),
    "The security tag could not be set. Please leave the item for the staff.": ("Hälytystarran tilaa ei voitu asettaa. Jätä laina henkilökunnalle.", "Larmetiketten kunde inte ställas in. Lämna det åt personalen."),
    "The tag could not be read. Move the item on the pad.": ("Tarraa ei voitu lukea. Siirrä lainaa alustalla.", "Etiketten kunde inte läsas. Flytta det på plattan."),
    "Then tap OK. Your PIN is never shown.": ("Paina sitten OK. Tunnuslukua ei näytetä.", "Tryck sedan OK. PIN-koden visas aldrig."),
    "This card is not known to the library.": ("Kirjasto ei tunne tätä korttia.", "Biblioteket känner inte till det här kortet."),
    "This item cannot be borrowed.": ("Tätä ei voi lainata.", "Det här kan inte lånas."),
    "To borrow, show your library card to the reader or tap Borrow and renew.":
        ("Näytä kirjastokorttisi lukijalle tai paina Lainaa ja uusi.",
         "Visa ditt bibliotekskort för läsaren eller tryck Låna och förnya."),
    "Too many wrong PINs. Please try again later.": ("Liian monta väärää tunnuslukua. Yritä myöhemmin uudelleen.", "För många fel PIN-koder. Försök igen senare."),
    "Type your library card number": ("Näppäile kirjastokorttisi numero", "Ange numret på ditt bibliotekskort"),
    "Or show your card to the reader.": ("Tai näytä korttisi lukijalle.", "Eller visa ditt kort för läsaren."),
    "Type your PIN": ("Näppäile tunnuslukusi", "Ange din PIN-kod"),
    "Welcome to the library": ("Tervetuloa kirjastoon", "Välkommen till biblioteket"),
    "Working…": ("Käsitellään…", "Behandlas…"),
    "Would you like a receipt?": ("Haluatko kuitin?", "Vill du ha ett kvitto?"),
    "Wrong PIN. Please try again.": ("Väärä tunnusluku. Yritä uudelleen.", "Fel PIN-kod. Försök igen."),
    "You already have this item.": ("Tämä on jo lainassasi.", "Du har redan lånat det här."),
    "You have no loans.": ("Sinulla ei ole lainoja.", "Du har inga lån."),
    "You were logged out because nothing happened for a while.": ("Sinut kirjattiin ulos, koska mitään ei tapahtunut hetkeen.", "Du loggades ut eftersom ingenting hände på en stund."),
    "Your account does not allow borrowing now.": ("Tililläsi ei voi nyt lainata.", "Ditt konto tillåter inte lån just nu."),
    "Your account does not allow self-service loans now.":
        ("Tililläsi ei voi nyt lainata itse.",
         "Ditt konto tillåter inte att du lånar själv just nu."),
    "Help": ("Apua", "Hjälp"),
    "Large text": ("Suuri teksti", "Stor text"),
    "Read aloud": ("Lue ääneen", "Läs högt"),
    "Help by phone: {}": ("Apua puhelimitse: {}", "Hjälp per telefon: {}"),
    "You have unpaid fines of {}, so self-service loans are not possible now.":
        ("Sinulla on maksamattomia maksuja {}, joten et voi nyt lainata itse.",
         "Du har obetalda avgifter på {}, så du kan inte låna själv just nu."),
    "Your library card is no longer valid. Renew it at the library.":
        ("Kirjastokorttisi ei ole enää voimassa. Uusi se kirjastossa.",
         "Ditt bibliotekskort är inte längre giltigt. Förnya det i biblioteket."),
    "Too many attempts at this kiosk. Please wait a minute and try again.":
        ("Liikaa yrityksiä tällä laitteella. Odota hetki ja yritä uudelleen.",
         "För många försök vid den här automaten. Vänta en minut och försök igen."),
    "Pay online at {} or at the library.":
        ("Maksa verkossa osoitteessa {} tai kirjastossa.",
         "Betala på nätet på {} eller i biblioteket."),
    "Your loans ({})": ("Lainasi ({})", "Dina lån ({})"),
    "Loans made at this kiosk while offline ({})":
        ("Tällä laitteella ilman yhteyttä tehdyt lainat ({})",
         "Lån gjorda här utan förbindelse ({})"),
    "The library system cannot be reached, so this list is not complete: it shows only the loans made at this kiosk while offline. Your other loans are safe.":
        ("Kirjastojärjestelmään ei saada yhteyttä, joten luettelo ei ole täydellinen: siinä ovat vain tällä laitteella ilman yhteyttä tehdyt lainat. Muut lainasi ovat tallessa.",
         "Biblioteksystemet kan inte nås, så listan är inte fullständig: den visar bara lån som gjorts vid den här automaten utan förbindelse. Dina andra lån finns kvar."),
    "Too many wrong PINs for this card. Please try again in {} minutes.":
        ("Liian monta väärää tunnuslukua tälle kortille. Yritä uudelleen {} minuutin kuluttua.",
         "För många fel PIN-koder för det här kortet. Försök igen om {} minuter."),
}

def esc(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')

here = pathlib.Path(__file__).parent
for i, lang in enumerate(["fi", "sv"]):
    out = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', f'"Language: {lang}\\n"', ""]
    for k in sorted(T):
        if not T[k][i]:
            continue
        out += [f'msgid "{esc(k)}"', f'msgstr "{esc(T[k][i])}"', ""]
    d = here / lang / "LC_MESSAGES"
    d.mkdir(parents=True, exist_ok=True)
    (d / "ui.po").write_text("\n".join(out), encoding="utf-8")
