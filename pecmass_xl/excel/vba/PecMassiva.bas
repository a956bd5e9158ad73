Attribute VB_Name = "PecMassiva"
' PEC Massiva: the callbacks of the ribbon tab (customUI/customUI.xml) and the bridge to Python.
'
' Each button runs one function of the Python module pecmass_xl.excel.handlers through the
' xlwings add-in. The add-in is called late-bound (Application.Run), so this project compiles
' without a reference to it; when it is not loaded the user is told how to install it.
' Callbacks declare "control As Object" (a late-bound IRibbonControl).
'
' Text shown to the user goes through Accenti(): the source stays ASCII so that it reads the
' same on Windows and macOS; "e`" becomes an e with a grave accent, and likewise a, i, o, u, E.
Option Explicit

Private Const ADDIN_NAME As String = "xlwings.xlam"
Private Const PYTHON_MODULE As String = "pecmass_xl.excel.handlers"
Private Const APP_TITLE As String = "PEC Massiva"
Private Const LIST_SHEET As String = "Destinatari"
Private Const RIBBON_NS As String = "http://schemas.microsoft.com/office/2006/01/customui"
Private Const MAX_FIELDS As Long = 250
Private Const RESULT_HEADERS As String = _
    "|ID invio|Stato invio|Inviata il|Accettata il|Consegnata il|Esito|Dettaglio|Firma|Ricevute|"
Private Const TEMPLATE_WORDS As String = "|and|or|not|in|is|if|else|true|false|none|riga|"

Private ribbonUI As Object

' ---------------------------------------------------------------------------------------------
' Ribbon callbacks

Public Sub OnRibbonLoad(ribbon As Object)
    Set ribbonUI = ribbon
End Sub

Public Sub OnVerifica(control As Object)
    RunHandler "verifica"
End Sub

Public Sub OnAnteprima(control As Object)
    RunHandler "anteprima"
End Sub

Public Sub OnImportaCsv(control As Object)
    RunHandler "importa_csv"
End Sub

Public Sub OnProvaConnessione(control As Object)
    RunHandler "prova_connessione"
End Sub

Public Sub OnInvioDiProva(control As Object)
    RunHandler "invio_di_prova"
End Sub

Public Sub OnInvia(control As Object)
    RunHandler "invia"
End Sub

Public Sub OnReinvia(control As Object)
    RunHandler "reinvia"
End Sub

Public Sub OnInterrompi(control As Object)
    RunHandler "interrompi"
End Sub

Public Sub OnAggiornaRicevute(control As Object)
    RunHandler "aggiorna_ricevute"
End Sub

Public Sub OnEsportaReport(control As Object)
    RunHandler "esporta_report"
End Sub

Public Sub OnApriArchivio(control As Object)
    RunHandler "apri_archivio"
End Sub

Public Sub OnPassword(control As Object)
    RunHandler "password"
End Sub

Public Sub OnGuida(control As Object)
    MsgBox HelpMessage(), vbInformation, APP_TITLE
End Sub

' The "Campi" menu: one entry per header of Destinatari, rebuilt every time the menu opens.
Public Sub GetCampiContent(control As Object, ByRef returnedVal)
    returnedVal = FieldMenuXml()
End Sub

' An entry of the "Campi" menu: its tag holds the header to insert.
Public Sub OnInserisciCampo(control As Object)
    InsertPlaceholder control.Tag
End Sub

' ---------------------------------------------------------------------------------------------
' The bridge to Python

Private Sub RunHandler(ByVal handlerName As String)
    If Not AddinLoaded() Then
        MsgBox AddinMissingMessage(), vbExclamation, APP_TITLE
        Exit Sub
    End If
    On Error GoTo Failed
    Application.Run "'xlwings.xlam'!RunPython", "import " & PYTHON_MODULE & " as h; h." & handlerName & "()"
    Exit Sub
Failed:
    MsgBox Accenti("Non e` stato possibile avviare Python: ") & Err.Description & vbCrLf & vbCrLf & _
        AddinMissingMessage(), vbExclamation, APP_TITLE
End Sub

' An add-in workbook is reachable by name in Workbooks while it is loaded.
Private Function AddinLoaded() As Boolean
    Dim book As Object
    On Error Resume Next
    Set book = Application.Workbooks(ADDIN_NAME)
    On Error GoTo 0
    AddinLoaded = Not book Is Nothing
End Function

Private Function AddinMissingMessage() As String
    AddinMissingMessage = Accenti( _
        "I pulsanti di PEC Massiva usano Python tramite il componente aggiuntivo xlwings, " & _
        "che non risulta caricato in Excel." & vbCrLf & vbCrLf & _
        "Chiudi Excel, apri il Prompt dei comandi (sul Mac: il Terminale) e scrivi:" & vbCrLf & _
        "    pecmass excel installa" & vbCrLf & _
        "(il comando pecmass e` quello dell'ambiente Python in cui hai installato PEC Massiva, " & _
        "vedi il file README). Poi riapri Excel." & vbCrLf & vbCrLf & _
        "Se il problema resta, scrivi" & vbCrLf & _
        "    pecmass excel verifica" & vbCrLf & _
        "che controlla componente aggiuntivo, Python configurato, macro e blocchi di sicurezza " & _
        "e dice cosa fare.")
End Function

Private Function HelpMessage() As String
    HelpMessage = Accenti( _
        "PEC Massiva invia una PEC personalizzata a ogni riga del foglio Destinatari." & vbCrLf & vbCrLf & _
        "1. Scrivi i destinatari in Destinatari: la prima riga contiene i nomi dei campi, " & _
        "la colonna PEC gli indirizzi." & vbCrLf & _
        "2. Scrivi oggetto e testo in Messaggio; il menu Campi inserisce un campo " & _
        "nella cella selezionata." & vbCrLf & _
        "3. Compila Impostazioni e salva la password con il pulsante Password." & vbCrLf & _
        "4. Verifica e Anteprima controllano i dati; Invio di prova manda un solo messaggio " & _
        "al destinatario di prova." & vbCrLf & _
        "5. Invia spedisce le righe pronte; Excel resta utilizzabile durante l'invio, " & _
        "Interrompi lo ferma." & vbCrLf & _
        "6. Aggiorna ricevute legge le ricevute e aggiorna Stato invio; Esporta report crea " & _
        "un file CSV; Apri archivio mostra i messaggi e le ricevute salvati." & vbCrLf & vbCrLf & _
        "I pulsanti richiedono Python e il componente aggiuntivo xlwings: " & _
        "per installarlo o controllarlo, pecmass excel installa e pecmass excel verifica.")
End Function

' ---------------------------------------------------------------------------------------------
' The "Campi" menu

Private Function FieldMenuXml() As String
    Dim sheet As Object
    Dim xml As String
    Dim header As String
    Dim lastColumn As Long
    Dim columnIndex As Long
    Dim added As Long
    Dim cellValue As Variant

    xml = "<menu xmlns=""" & RIBBON_NS & """>"
    On Error Resume Next
    Set sheet = ThisWorkbook.Worksheets(LIST_SHEET)
    On Error GoTo 0
    If Not sheet Is Nothing Then
        lastColumn = sheet.UsedRange.Column + sheet.UsedRange.Columns.Count - 1
        For columnIndex = 1 To lastColumn
            cellValue = sheet.Cells(1, columnIndex).Value
            If Not IsError(cellValue) Then
                header = Trim$(CStr(cellValue))
                If Len(header) > 0 And Len(header) <= 255 And Not IsResultHeader(header) _
                        And added < MAX_FIELDS Then
                    added = added + 1
                    xml = xml & "<button id=""pmCampo" & added & """ label=""" & XmlEscape(header) & _
                        """ tag=""" & XmlEscape(header) & """ onAction=""PecMassiva.OnInserisciCampo""/>"
                End If
            End If
        Next columnIndex
    End If
    If added = 0 Then
        xml = xml & "<button id=""pmCampoNessuno"" enabled=""false"" label=""" & _
            XmlEscape(Accenti("Nessun campo: scrivi le intestazioni nella riga 1 di Destinatari")) & """/>"
    End If
    FieldMenuXml = xml & "</menu>"
End Function

Private Function IsResultHeader(ByVal header As String) As Boolean
    IsResultHeader = InStr(1, RESULT_HEADERS, "|" & header & "|", vbBinaryCompare) > 0
End Function

'Appends the placeholder of `header` to the text of the active cell (a space apart).
Private Sub InsertPlaceholder(ByVal header As String)
    Dim target As Object
    Dim current As Variant
    Dim newText As String

    If TypeName(Selection) <> "Range" Then
        MsgBox Accenti("Seleziona la cella in cui inserire il campo."), vbExclamation, APP_TITLE
        Exit Sub
    End If
    On Error Resume Next
    Set target = ActiveCell
    On Error GoTo 0
    If target Is Nothing Then Set target = Selection.Cells(1, 1)  ' hosts without an active cell
    If target.HasFormula Then
        MsgBox Accenti("La cella selezionata contiene una formula: scegli una cella di testo."), _
            vbExclamation, APP_TITLE
        Exit Sub
    End If
    current = target.Value
    If IsEmpty(current) Then
        newText = PlaceholderFor(header)
    ElseIf VarType(current) = vbString Then
        newText = current
        If Len(newText) > 0 And InStr(1, " " & vbLf & vbCr & vbTab, Right$(newText, 1)) = 0 Then
            newText = newText & " "
        End If
        newText = newText & PlaceholderFor(header)
    Else
        MsgBox Accenti("La cella selezionata contiene un numero o una data: scegli una cella di testo."), _
            vbExclamation, APP_TITLE
        Exit Sub
    End If
    If Len(newText) > 32767 Then
        MsgBox Accenti("Il testo della cella e` troppo lungo per aggiungere il campo."), vbExclamation, APP_TITLE
        Exit Sub
    End If
    ' Keep text that looks like a formula as text.
    If InStr(1, "=+-@", Left$(newText, 1)) > 0 Then newText = "'" & newText
    On Error GoTo Failed
    target.Value = newText
    Exit Sub
Failed:
    MsgBox Accenti("Impossibile inserire il campo: ") & Err.Description, vbExclamation, APP_TITLE
End Sub

' "{{ Nome }}" for a header that is a plain name, else "{{ riga["Data di nascita"] }}".
Private Function PlaceholderFor(ByVal header As String) As String
    If IsPlainName(header) Then
        PlaceholderFor = "{{ " & header & " }}"
    Else
        PlaceholderFor = "{{ riga[""" & Replace(Replace(header, "\", "\\"), """", "\""") & """] }}"
    End If
End Function

' Letters (also accented Latin ones), digits and "_", not starting with a digit, not a template word.
Private Function IsPlainName(ByVal header As String) As Boolean
    Dim position As Long
    Dim code As Long

    If Len(header) = 0 Then Exit Function
    If InStr(1, TEMPLATE_WORDS, "|" & LCase$(header) & "|", vbBinaryCompare) > 0 Then Exit Function
    For position = 1 To Len(header)
        code = AscW(Mid$(header, position, 1))
        Select Case code
            Case 65 To 90, 97 To 122, 95, 192 To 214, 216 To 246, 248 To 255
            Case 48 To 57
                If position = 1 Then Exit Function
            Case Else
                Exit Function
        End Select
    Next position
    IsPlainName = True
End Function

' ---------------------------------------------------------------------------------------------
' Text helpers

Private Function XmlEscape(ByVal rawText As String) As String
    Dim position As Long
    Dim code As Long
    For position = 1 To Len(rawText)
        code = AscW(Mid$(rawText, position, 1))
        If code >= 0 And code < 32 Then Mid$(rawText, position, 1) = " "
    Next position
    rawText = Replace(rawText, "&", "&amp;")
    rawText = Replace(rawText, "<", "&lt;")
    rawText = Replace(rawText, ">", "&gt;")
    XmlEscape = Replace(rawText, """", "&quot;")
End Function

Private Function Accenti(ByVal message As String) As String
    message = Replace(message, "a`", ChrW(224))
    message = Replace(message, "e`", ChrW(232))
    message = Replace(message, "i`", ChrW(236))
    message = Replace(message, "o`", ChrW(242))
    message = Replace(message, "u`", ChrW(249))
    message = Replace(message, "E`", ChrW(200))
    Accenti = message
End Function
